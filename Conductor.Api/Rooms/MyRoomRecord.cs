namespace Conductor.Api.Rooms;

public sealed record MyRoomRecord(RoomRecord Room, RoomRole Role);
