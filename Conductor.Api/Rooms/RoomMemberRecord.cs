namespace Conductor.Api.Rooms;

public sealed record RoomMemberRecord(Guid UserId, string Login, RoomRole Role, DateTimeOffset JoinedAt);
