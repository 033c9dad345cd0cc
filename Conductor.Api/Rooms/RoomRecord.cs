namespace Conductor.Api.Rooms;

public sealed record RoomRecord(Guid Id, string Name, Guid HostUserId, DateTimeOffset CreatedAt, DateTimeOffset? EndedAt);
