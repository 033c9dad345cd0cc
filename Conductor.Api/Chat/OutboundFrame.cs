using System.Runtime.CompilerServices;
using System.Text.Json;
using Microsoft.AspNetCore.SignalR;
using Microsoft.AspNetCore.SignalR.Protocol;

namespace Conductor.Api.Chat;

/// <summary>
/// One frame for the clients of a room, serialised once and shared by every connection: raw sockets send
/// <see cref="Utf8"/> as is, the hub writes <see cref="HubMessage"/> (<see cref="HubEvent"/> with <see cref="Element"/>). Reading a
/// frame off Redis looks only at its top level (<see cref="Type"/>, <see cref="Seq"/>); the element is built the first
/// time a hub connection (or a membership event) needs it, so a room of raw sockets never pays for a DOM.
/// </summary>
public sealed class OutboundFrame
{
    private StrongBox<JsonElement>? _element;
    private SerializedHubMessage? _hubMessage;

    private OutboundFrame(string type, long? seq, ReadOnlyMemory<byte> utf8)
    {
        Type = type;
        Seq = seq;
        Utf8 = utf8;
    }

    public string Type { get; }

    /// <summary>A chat message's place in its room; null for every other frame.</summary>
    public long? Seq { get; }

    public ReadOnlyMemory<byte> Utf8 { get; }

    public JsonElement Element => LazyInitializer.EnsureInitialized(ref _element, () =>
    {
        var reader = new Utf8JsonReader(Utf8.Span);
        return new StrongBox<JsonElement>(JsonElement.ParseValue(ref reader));
    }).Value;

    /// <summary>The hub invocation (<see cref="HubEvent"/> with <see cref="Element"/>), serialised once per protocol however many connections get it.</summary>
    public SerializedHubMessage HubMessage =>
        LazyInitializer.EnsureInitialized(ref _hubMessage, () => new SerializedHubMessage(new InvocationMessage(HubEvent, [Element])));

    /// <summary>The hub's event for the frame's type; events the chat does not know by name (jobs, membership) are "RoomEvent".</summary>
    public string HubEvent => Type switch
    {
        "chat" => "Message",
        "typing" => "Typing",
        "read_receipt" => "ReadReceipt",
        "user_joined" => "UserJoined",
        "user_left" => "UserLeft",
        "ai_start" => "AiStart",
        "ai_token" => "AiToken",
        "ai_tool" => "AiTool",
        "ai_done" => "AiDone",
        _ => "RoomEvent",
    };

    /// <summary>From a JSON object with a string <c>type</c>; null for anything else (including malformed JSON).</summary>
    public static OutboundFrame? TryParse(ReadOnlyMemory<byte> utf8)
    {
        try
        {
            var reader = new Utf8JsonReader(utf8.Span);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return null;
            }
            string? type = null;
            long? seq = null;
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var isType = reader.ValueTextEquals("type"u8);
                var isSeq = reader.ValueTextEquals("seq"u8);
                reader.Read();
                if (isType)
                {
                    type = reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
                }
                else if (isSeq)
                {
                    seq = reader.TokenType == JsonTokenType.Number && reader.TryGetInt64(out var number) ? number : null;
                }
                reader.Skip(); // past a nested object or array; nothing for a plain value
            }
            // The loop ends on the object's end; anything after it is not one JSON object.
            if (reader.TokenType != JsonTokenType.EndObject || reader.Read() || type is null)
            {
                return null;
            }
            return new OutboundFrame(type, type == "chat" ? seq : null, utf8);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>Record separator: starts each frame of a JSON text sequence (RFC 7464); JSON text never contains it raw.</summary>
    private const byte RecordSeparator = 0x1E;

    /// <summary>
    /// One payload for several frames (a room's messages of one stored batch, published once): a single frame as it
    /// is, several as a JSON text sequence (RFC 7464: each frame after a record separator, 0x1E, and before a line feed).
    /// </summary>
    public static ReadOnlyMemory<byte> Join(IReadOnlyList<OutboundFrame> frames)
    {
        if (frames.Count == 1)
        {
            return frames[0].Utf8;
        }
        var payload = new byte[frames.Sum(f => f.Utf8.Length + 2)];
        var at = 0;
        foreach (var frame in frames)
        {
            payload[at++] = RecordSeparator;
            frame.Utf8.Span.CopyTo(payload.AsSpan(at));
            at += frame.Utf8.Length;
            payload[at++] = (byte)'\n';
        }
        return payload;
    }

    /// <summary>The frames of a payload <see cref="Join"/> made (one JSON object, or a JSON text sequence), in order.</summary>
    public static List<ReadOnlyMemory<byte>> Split(ReadOnlyMemory<byte> payload)
    {
        if (payload.Length == 0 || payload.Span[0] != RecordSeparator)
        {
            return [payload];
        }
        var parts = new List<ReadOnlyMemory<byte>>();
        var rest = payload[1..];
        while (true)
        {
            var end = rest.Span.IndexOf(RecordSeparator);
            parts.Add(TrimLineFeed(end < 0 ? rest : rest[..end]));
            if (end < 0)
            {
                return parts;
            }
            rest = rest[(end + 1)..];
        }
    }

    private static ReadOnlyMemory<byte> TrimLineFeed(ReadOnlyMemory<byte> part) =>
        part.Length > 0 && part.Span[^1] == (byte)'\n' ? part[..^1] : part;

    /// <summary>Serialises the frame once, for every connection it goes to.</summary>
    public static OutboundFrame Create<T>(T frame) where T : IChatFrame =>
        new(frame.Type, frame is ChatMessage message ? message.Seq : null, JsonSerializer.SerializeToUtf8Bytes(frame, ChatJson.Options));

    public static OutboundFrame Error(string code, string message, Guid? id = null) => Create(new ErrorFrame(code, message, id));
}
