namespace Conductor.Api.Auth;

/// <summary>A fixed window per client (user id when signed in, otherwise IP address) on the /auth endpoints.</summary>
public sealed class AuthRateLimitOptions
{
    public int PermitLimit { get; set; } = 30;

    public TimeSpan Window { get; set; } = TimeSpan.FromMinutes(1);
}
