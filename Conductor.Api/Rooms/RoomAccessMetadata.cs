namespace Conductor.Api.Rooms;

/// <summary>
/// Endpoint metadata of a room-scoped route: the access it needs. The filter enforces it, the OpenAPI document shows it
/// (<c>x-room-access</c>) and the tests' sweep reads it there.
/// </summary>
public sealed record RoomAccessMetadata(RoomRole Minimum, bool Write);
