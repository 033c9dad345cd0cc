namespace Conductor.Api.Terminals;

/// <summary>
/// What a relaying Api instance sends the instance holding a terminal (<see cref="TerminalRelay"/>): a viewer joins
/// (with the user and session it authenticated), sends a client frame as it came (<see cref="Data"/>), or leaves. The
/// session id lets the holder refuse a signed-out session's frames as soon as it hears of the sign-out itself.
/// </summary>
public sealed record RelayMessage(string Op, Guid ViewerId, Guid? UserId = null, string? Login = null, string? Data = null, Guid? SessionId = null)
{
    public const string Join = "join";
    public const string Frame = "frame";
    public const string Leave = "leave";
}
