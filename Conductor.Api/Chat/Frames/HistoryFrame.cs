using System.Text.Json.Serialization;

namespace Conductor.Api.Chat;

/// <summary><c>history</c>: the answer to a socket's <c>history_request</c>, oldest first.</summary>
public sealed record HistoryFrame(Guid RoomId, IReadOnlyList<ChatMessage> Messages) : IChatFrame
{
    [JsonPropertyOrder(-1)]
    public string Type => "history";
}
