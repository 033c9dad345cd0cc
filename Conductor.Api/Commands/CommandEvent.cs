namespace Conductor.Api.Commands;

/// <summary>
/// A command's room event (docs/events.md): <c>command_started</c> (argv, who), <c>command_output</c> (seq, text:
/// output gathered over <see cref="CommandOptions.OutputEventInterval"/>), <c>command_finished</c> (status,
/// exit code, duration) and <c>command_refused</c> (argv, reason). Null members are left out.
/// </summary>
public sealed record CommandEvent(
    string Type,
    Guid RoomId,
    Guid CommandId,
    Guid? UserId = null,
    string? Login = null,
    IReadOnlyList<string>? Argv = null,
    long? Seq = null,
    string? Text = null,
    string? Status = null,
    int? ExitCode = null,
    long? DurationMs = null,
    string? Reason = null,
    DateTimeOffset? At = null)
{
    public const string Started = "command_started";
    public const string Output = "command_output";
    public const string Finished = "command_finished";
    public const string Refused = "command_refused";
}
