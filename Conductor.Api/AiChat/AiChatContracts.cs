using System.Text.Json.Serialization;

namespace Conductor.Api.AiChat;

/// <summary>
/// The typed frames of a streamed AI answer, published on the room's chat channel so every member's socket and hub
/// connection gets them in order: <c>ai_start</c>, any number of <c>ai_token</c> and <c>ai_tool</c>, then <c>ai_done</c>.
/// The stored answer then arrives as an ordinary <c>chat</c> message (kind <c>ai</c>) with the same id.
/// </summary>
public static class AiChatFrameTypes
{
    public const string Start = "ai_start";
    public const string Token = "ai_token";
    public const string Tool = "ai_tool";
    public const string Done = "ai_done";
}

/// <summary>An answer began: <see cref="MessageId"/> is the id the stored answer will have.</summary>
public sealed record AiStartFrame(Guid RoomId, Guid MessageId, Guid ReplyTo, string Login, string Provider, Guid AskedBy, DateTime StartedAt)
{
    [JsonPropertyOrder(-1)]
    public string Type => AiChatFrameTypes.Start;
}

/// <summary>The next piece of text; <see cref="Index"/> counts from 0 so a client can spot a gap.</summary>
public sealed record AiTokenFrame(Guid RoomId, Guid MessageId, int Index, string Text)
{
    [JsonPropertyOrder(-1)]
    public string Type => AiChatFrameTypes.Token;
}

/// <summary>The assistant called a read-only workspace tool (shown as "searching…", "reading src/a.cs").</summary>
public sealed record AiToolFrame(Guid RoomId, Guid MessageId, string Name, string Detail)
{
    [JsonPropertyOrder(-1)]
    public string Type => AiChatFrameTypes.Tool;
}

/// <summary>The answer ended: <c>completed</c>, <c>stopped</c> (by <see cref="StoppedBy"/>, or the time limit) or <c>failed</c>.</summary>
public sealed record AiDoneFrame(Guid RoomId, Guid MessageId, string Status,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Error,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] Guid? StoppedBy)
{
    [JsonPropertyOrder(-1)]
    public string Type => AiChatFrameTypes.Done;
}

public static class AiAnswerStatus
{
    public const string Completed = "completed";
    public const string Stopped = "stopped";
    public const string Failed = "failed";
}

/// <summary>The answer to a stop request (HTTP 202).</summary>
public sealed record AiStopAccepted(Guid RoomId, Guid MessageId, string Status);
