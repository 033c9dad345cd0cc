namespace Conductor.Api.Rooms;

/// <summary>What a valid invite token says. The database row (by <see cref="InviteId"/>) says whether it is spent.</summary>
public sealed record InviteClaims(Guid InviteId, Guid RoomId, DateTimeOffset ExpiresAt);
