namespace Conductor.Api.Terminals;

/// <summary>
/// What a relaying Api instance sends the instance holding a terminal (<see cref="TerminalRelay"/>): a viewer joins
/// (with the user it authenticated), sends a client frame as it came (<see cref="Data"/>), or leaves.
/// </summary>
public sealed record RelayMessage(string Op, Guid ViewerId, Guid? UserId = null, string? Login = null, string? Data = null)
{
    public const string Join = "join";
    public const string Frame = "frame";
    public const string Leave = "leave";
}
