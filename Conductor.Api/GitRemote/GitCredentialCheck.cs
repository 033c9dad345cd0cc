using System.Security.Claims;
using System.Text;
using Microsoft.AspNetCore.Authentication.BearerToken;
using Microsoft.Extensions.Options;

namespace Conductor.Api.GitRemote;

/// <summary>
/// HTTP Basic credentials as git sends them, checked as hosting services do: the password is a Conductor access token
/// (what the CLI's credential helper hands git), the user name is not used. The token is unprotected with the bearer
/// handler's own protector, so exactly the tokens the Api accepts as bearer tokens work here, and expire alike.
/// </summary>
public sealed class GitCredentialCheck(IOptionsMonitor<BearerTokenOptions> bearerOptions, TimeProvider time)
{
    /// <summary>The signed-in user, or null for a missing, malformed, wrong or expired credential.</summary>
    public ClaimsPrincipal? Authenticate(string? authorization)
    {
        if (authorization is null || !authorization.StartsWith("Basic ", StringComparison.OrdinalIgnoreCase) || authorization.Length > 16 * 1024)
        {
            return null;
        }
        string decoded;
        try
        {
            decoded = Encoding.UTF8.GetString(Convert.FromBase64String(authorization[6..].Trim()));
        }
        catch (FormatException)
        {
            return null;
        }
        var colon = decoded.IndexOf(':', StringComparison.Ordinal);
        if (colon < 0)
        {
            return null;
        }
        var token = decoded[(colon + 1)..];
        if (token.Length == 0)
        {
            return null;
        }
        var ticket = bearerOptions.Get(BearerTokenDefaults.AuthenticationScheme).BearerTokenProtector.Unprotect(token);
        if (ticket?.Properties.ExpiresUtc is not { } expires || expires <= time.GetUtcNow())
        {
            return null;
        }
        return ticket.Principal;
    }
}
