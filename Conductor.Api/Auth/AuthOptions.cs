namespace Conductor.Api.Auth;

/// <summary>The <c>Auth</c> section: token lifetimes, dev login, GitHub sign-in and the auth rate limit.</summary>
public sealed class AuthOptions
{
    public const string SectionName = "Auth";

    /// <summary><c>POST /auth/dev</c> signs anyone in by name. Only the AppHost's local run turns it on.</summary>
    public bool DevLogin { get; set; }

    /// <summary>
    /// How long an access token is accepted. Signing out refuses it at once on every instance (<see cref="SessionRevocations"/>);
    /// the lifetime bounds how long each instance remembers a revoked session.
    /// </summary>
    public TimeSpan AccessTokenLifetime { get; set; } = TimeSpan.FromMinutes(15);

    /// <summary>How long a refresh token may wait before its (single) use.</summary>
    public TimeSpan RefreshTokenLifetime { get; set; } = TimeSpan.FromDays(30);

    /// <summary>
    /// A client that lost the answer to a refresh (killed mid-request, a window reloading while it was in flight)
    /// presents the same refresh token again. Within this long of the token's first use, and while the successor it
    /// never received is unused, that is a retry: it gets a new successor, and the lost one is superseded (presenting it
    /// later counts as reuse). Outside the window, or once the successor was used, a second use is reuse and revokes
    /// the family. Zero turns retries off (every second use is reuse).
    /// </summary>
    public TimeSpan RefreshRetryWindow { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>
    /// How long a socket ticket (<c>POST /auth/socket-ticket</c>) may wait for its one use. Browsers cannot set headers
    /// on a WebSocket, so they put a ticket in its URL instead of the access token: seconds, single use, sockets only.
    /// </summary>
    public TimeSpan SocketTicketLifetime { get; set; } = TimeSpan.FromSeconds(30);

    public GitHubAuthOptions GitHub { get; set; } = new();

    public AuthRateLimitOptions RateLimit { get; set; } = new();
}
