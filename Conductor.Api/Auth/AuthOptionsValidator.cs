using Microsoft.Extensions.Options;

namespace Conductor.Api.Auth;

internal sealed class AuthOptionsValidator : IValidateOptions<AuthOptions>
{
    public ValidateOptionsResult Validate(string? name, AuthOptions options)
    {
        var failures = new List<string>();
        if (options.AccessTokenLifetime < TimeSpan.FromSeconds(1) || options.AccessTokenLifetime > TimeSpan.FromDays(1))
        {
            failures.Add($"Auth:AccessTokenLifetime must be between 1 second and 1 day (got {options.AccessTokenLifetime}).");
        }
        if (options.RefreshTokenLifetime < options.AccessTokenLifetime || options.RefreshTokenLifetime > TimeSpan.FromDays(365))
        {
            failures.Add($"Auth:RefreshTokenLifetime must be at least the access token lifetime and at most 365 days (got {options.RefreshTokenLifetime}).");
        }
        if (options.RefreshRetryWindow < TimeSpan.Zero || options.RefreshRetryWindow > TimeSpan.FromMinutes(5))
        {
            failures.Add($"Auth:RefreshRetryWindow must be between 0 and 5 minutes (got {options.RefreshRetryWindow}).");
        }
        if (options.SocketTicketLifetime < TimeSpan.FromSeconds(1) || options.SocketTicketLifetime > TimeSpan.FromMinutes(5))
        {
            failures.Add($"Auth:SocketTicketLifetime must be between 1 second and 5 minutes (got {options.SocketTicketLifetime}).");
        }
        foreach (var (setting, url) in new[] { ("Auth:GitHub:BaseUrl", options.GitHub.BaseUrl), ("Auth:GitHub:ApiUrl", options.GitHub.ApiUrl) })
        {
            if (url is null || !url.IsAbsoluteUri || (url.Scheme != Uri.UriSchemeHttps && url.Scheme != Uri.UriSchemeHttp))
            {
                failures.Add($"{setting} must be an absolute http(s) URL.");
            }
        }
        if (options.GitHub.Timeout <= TimeSpan.Zero || options.GitHub.Timeout > TimeSpan.FromMinutes(2))
        {
            failures.Add("Auth:GitHub:Timeout must be between 0 and 2 minutes.");
        }
        if (options.RateLimit.PermitLimit < 1)
        {
            failures.Add("Auth:RateLimit:PermitLimit must be at least 1.");
        }
        if (options.RateLimit.Window < TimeSpan.FromSeconds(1))
        {
            failures.Add("Auth:RateLimit:Window must be at least 1 second.");
        }
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
