namespace Conductor.Api.Auth;

/// <summary>An access token (Data Protection protected, accepted by every instance) and its refresh token.</summary>
public sealed record IssuedTokens(string AccessToken, string RefreshToken, TimeSpan AccessTokenLifetime, UserRecord User);
