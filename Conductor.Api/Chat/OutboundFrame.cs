using System.Text.Json;

namespace Conductor.Api.Chat;

/// <summary>
/// One frame for the clients of a room, serialised once and shared by every connection: raw sockets send
/// <see cref="Utf8"/> as is, the hub sends <see cref="Element"/> as the argument of <see cref="HubEvent"/>.
/// </summary>
public sealed class OutboundFrame
{
    private OutboundFrame(string type, ReadOnlyMemory<byte> utf8, JsonElement element)
    {
        Type = type;
        Utf8 = utf8;
        Element = element;
    }

    public string Type { get; }
    public ReadOnlyMemory<byte> Utf8 { get; }
    public JsonElement Element { get; }

    /// <summary>The hub's event for the frame's type; events the chat does not know by name (jobs, membership) are "RoomEvent".</summary>
    public string HubEvent => Type switch
    {
        "chat" => "Message",
        "typing" => "Typing",
        "read_receipt" => "ReadReceipt",
        "user_joined" => "UserJoined",
        "user_left" => "UserLeft",
        _ => "RoomEvent",
    };

    /// <summary>From a JSON object with a string <c>type</c>; null for anything else.</summary>
    public static OutboundFrame? TryParse(ReadOnlyMemory<byte> utf8)
    {
        try
        {
            using var document = JsonDocument.Parse(utf8);
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("type", out var type) || type.ValueKind != JsonValueKind.String)
            {
                return null;
            }
            return new OutboundFrame(type.GetString()!, utf8, root.Clone());
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>Serialises the frame once, for every connection it goes to.</summary>
    public static OutboundFrame Create<T>(T frame) where T : IChatFrame
    {
        var utf8 = JsonSerializer.SerializeToUtf8Bytes(frame, ChatJson.Options);
        using var document = JsonDocument.Parse(utf8);
        return new OutboundFrame(frame.Type, utf8, document.RootElement.Clone());
    }

    public static OutboundFrame Error(string code, string message, Guid? id = null) => Create(new ErrorFrame(code, message, id));
}
