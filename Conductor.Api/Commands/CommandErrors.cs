namespace Conductor.Api.Commands;

/// <summary>The <c>code</c> extensions of the commands feature's problems.</summary>
public static class CommandErrors
{
    public const string NotAllowed = "command_not_allowed";
    public const string Invalid = "invalid_command";
    public const string Busy = "command_running";
    public const string RateLimited = "rate_limited";
    public const string NoWorkspace = "workspace_not_ready";
    public const string Finished = "command_finished";
    public const string InvalidSettings = "invalid_settings";
}
