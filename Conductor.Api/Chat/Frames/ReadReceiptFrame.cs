using System.Text.Json.Serialization;

namespace Conductor.Api.Chat;

/// <summary><c>read_receipt</c>: a user's read marker moved forward to <see cref="MessageId"/>.</summary>
public sealed record ReadReceiptFrame(Guid RoomId, Guid MessageId, Guid UserId, DateTime ReadAt) : IChatFrame
{
    [JsonPropertyOrder(-1)]
    public string Type => "read_receipt";
}
