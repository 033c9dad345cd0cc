namespace Conductor.Api.Rooms;

/// <summary>Why a caller may not do something in a room; HTTP, the chat socket and the hub each say it their way.</summary>
public enum RoomAccessDenial
{
    NotAMember,
    HostOnly,
    Ended,
}
