namespace Conductor.Api.Commands;

/// <summary>The states of a run; all but <see cref="Running"/> are final.</summary>
public static class CommandStatus
{
    public const string Running = "running";
    public const string Succeeded = "succeeded";
    public const string Failed = "failed";
    public const string TimedOut = "timed_out";
    public const string Cancelled = "cancelled";
    public const string OutputLimit = "output_limit";
    public const string Error = "error";
}
