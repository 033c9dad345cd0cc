namespace Conductor.Api.Chat;

/// <summary>Why the server ends a connection's membership of a room.</summary>
public enum ChatCloseReason
{
    /// <summary>The user was removed from the room: close code 1008 (policy violation).</summary>
    Removed,

    /// <summary>The client did not read its frames: close code 1008 too, with its own reason text.</summary>
    TooSlow,
}
