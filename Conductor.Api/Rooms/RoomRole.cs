namespace Conductor.Api.Rooms;

public enum RoomRole { Guest, Host }
