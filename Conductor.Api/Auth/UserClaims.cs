using System.Security.Claims;

namespace Conductor.Api.Auth;

/// <summary>
/// The claims every Conductor access token carries. Features read the caller through these extensions and never
/// take a user id from a request body.
/// </summary>
public static class UserClaims
{
    /// <summary>The user's id (UUID).</summary>
    public const string UserId = "sub";

    /// <summary>The user's login (e.g. their GitHub login, or the dev-login name).</summary>
    public const string Login = "login";

    /// <summary>
    /// The session (refresh-token family) the token was issued in: signing out revokes it, and every instance then
    /// refuses its access tokens and socket tickets (<see cref="SessionRevocations"/>).
    /// </summary>
    public const string SessionId = "sid";

    public static Guid GetUserId(this ClaimsPrincipal user) =>
        Guid.TryParse(user.FindFirstValue(UserId), out var id)
            ? id
            : throw new InvalidOperationException("The request has no authenticated user; the endpoint must require authorisation.");

    /// <summary>The token's session; null for a token issued before access tokens named their session.</summary>
    public static Guid? GetSessionId(this ClaimsPrincipal user) =>
        Guid.TryParse(user.FindFirstValue(SessionId), out var id) ? id : null;

    public static string GetLogin(this ClaimsPrincipal user) =>
        user.FindFirstValue(Login) ?? throw new InvalidOperationException("The request has no authenticated user.");
}
