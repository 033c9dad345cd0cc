namespace Conductor.Api.Auth;

// Wire contracts of /auth (snake_case on the wire through the global JSON policy).

public sealed record DevLoginRequest(string? Login);

public sealed record RefreshTokenRequest(string? RefreshToken);

public sealed record GitHubPollRequest(string? DeviceCode);

public sealed record GitHubTokenRequest(string? Token);

public sealed record UserResponse(Guid Id, string Login);

public sealed record TokenResponse(string AccessToken, string RefreshToken, int ExpiresIn, UserResponse User)
{
    public string TokenType => "Bearer";

    public static TokenResponse From(IssuedTokens tokens) => new(tokens.AccessToken, tokens.RefreshToken,
        (int)tokens.AccessTokenLifetime.TotalSeconds, new UserResponse(tokens.User.Id, tokens.User.Login));
}

public sealed record MeResponse(Guid Id, string Login, long? GithubId, bool HasGithubToken, DateTimeOffset CreatedAt);

public sealed record GitHubDeviceResponse(string DeviceCode, string UserCode, string VerificationUri, int Interval, int ExpiresIn);

/// <summary>The device flow is still waiting: poll again after <see cref="Interval"/> seconds.</summary>
public sealed record GitHubPendingResponse(string Status, int Interval);

/// <summary>A single-use ticket for one WebSocket connect (<c>?ticket=</c>, or SignalR's <c>access_token</c>), valid for <c>ExpiresIn</c> seconds.</summary>
public sealed record SocketTicketResponse(string Ticket, int ExpiresIn);
