namespace Conductor.Api.Auth;

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
