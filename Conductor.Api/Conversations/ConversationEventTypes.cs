namespace Conductor.Api.Conversations;

/// <summary>The event types of a conversation stream (SSE <c>event:</c> and the data's <c>type</c>).</summary>
public static class ConversationEventTypes
{
    public const string TurnStart = "turn_start";
    public const string Token = "token";
    public const string TurnEnd = "turn_end";
    public const string Error = "error";
    public const string Done = "done";
}
