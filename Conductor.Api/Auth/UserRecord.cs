namespace Conductor.Api.Auth;

public sealed record UserRecord(Guid Id, string Login, long? GitHubId, DateTimeOffset CreatedAt);
