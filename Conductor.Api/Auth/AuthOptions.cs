using Microsoft.Extensions.Options;

namespace Conductor.Api.Auth;

/// <summary>The <c>Auth</c> section: token lifetimes, dev login, GitHub sign-in and the auth rate limit.</summary>
public sealed class AuthOptions
{
    public const string SectionName = "Auth";

    /// <summary><c>POST /auth/dev</c> signs anyone in by name. Only the AppHost's local run turns it on.</summary>
    public bool DevLogin { get; set; }

    /// <summary>How long an access token is accepted. Short, because access tokens cannot be revoked.</summary>
    public TimeSpan AccessTokenLifetime { get; set; } = TimeSpan.FromMinutes(15);

    /// <summary>How long a refresh token may wait before its (single) use.</summary>
    public TimeSpan RefreshTokenLifetime { get; set; } = TimeSpan.FromDays(30);

    public GitHubAuthOptions GitHub { get; set; } = new();

    public AuthRateLimitOptions RateLimit { get; set; } = new();
}

public sealed class GitHubAuthOptions
{
    /// <summary>The OAuth app's client id for the device flow; the device flow answers 404 while it is unset.</summary>
    public string? ClientId { get; set; }

    /// <summary>Where the OAuth endpoints live (GitHub Enterprise: https://github.example.com).</summary>
    public Uri BaseUrl { get; set; } = new("https://github.com");

    /// <summary>The REST API (GitHub Enterprise: https://github.example.com/api/v3).</summary>
    public Uri ApiUrl { get; set; } = new("https://api.github.com");

    /// <summary>Scopes the device flow asks for: repository access, for pushing from the shared workspace.</summary>
    public string Scopes { get; set; } = "repo read:user";

    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(15);
}

/// <summary>A fixed window per client (user id when signed in, otherwise IP address) on the /auth endpoints.</summary>
public sealed class AuthRateLimitOptions
{
    public int PermitLimit { get; set; } = 30;

    public TimeSpan Window { get; set; } = TimeSpan.FromMinutes(1);
}

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
