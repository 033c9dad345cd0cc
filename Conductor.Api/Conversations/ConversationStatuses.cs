namespace Conductor.Api.Conversations;

public static class ConversationStatuses
{
    public const string Running = "running";
    public const string Completed = "completed";
    public const string Stopped = "stopped";
    public const string Failed = "failed";
}
