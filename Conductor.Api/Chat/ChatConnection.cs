using System.Text.Json;
using System.Threading.Channels;

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
        "ai_start" => "AiStart",
        "ai_token" => "AiToken",
        "ai_tool" => "AiTool",
        "ai_done" => "AiDone",
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

    public static OutboundFrame Create<T>(string type, T value)
    {
        var utf8 = JsonSerializer.SerializeToUtf8Bytes(value, ChatJson.Options);
        using var document = JsonDocument.Parse(utf8);
        return new OutboundFrame(type, utf8, document.RootElement.Clone());
    }

    public static OutboundFrame Error(string code, string message, Guid? id = null) =>
        Create("error", new ErrorFrame(code, message, id));

    private sealed record ErrorFrame(string Code, string Message, [property: System.Text.Json.Serialization.JsonIgnore(
        Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)] Guid? Id)
    {
        [System.Text.Json.Serialization.JsonPropertyOrder(-1)]
        public string Type => "error";
    }
}

/// <summary>
/// A client connection in one room, on either transport. Frames are queued and sent by one pump per connection,
/// so a slow client never holds up the room, and a client that falls <see cref="ChatOptions.OutboundQueueLimit"/>
/// frames behind is disconnected instead of growing the server's memory.
/// </summary>
public abstract class ChatConnection
{
    private readonly Channel<OutboundFrame> _outbound;

    protected ChatConnection(Guid roomId, ChatCaller caller, string connectionId, int queueLimit)
    {
        RoomId = roomId;
        Caller = caller;
        ConnectionId = connectionId;
        _outbound = Channel.CreateBounded<OutboundFrame>(new BoundedChannelOptions(queueLimit)
        {
            SingleReader = true,
            FullMode = BoundedChannelFullMode.Wait,
        });
    }

    public Guid RoomId { get; }
    public ChatCaller Caller { get; }

    /// <summary>Unique per connection (and room, for the hub), across instances: the presence entry's name.</summary>
    public string ConnectionId { get; }

    /// <summary>Queues a frame; false (and the connection is being closed) when the client is too far behind.</summary>
    public bool Enqueue(OutboundFrame frame)
    {
        if (_outbound.Writer.TryWrite(frame))
        {
            return true;
        }
        if (_outbound.Writer.TryComplete())
        {
            _ = CloseAsync(ChatCloseReason.TooSlow);
        }
        return false;
    }

    /// <summary>Sends queued frames until the connection ends; run once per connection.</summary>
    public async Task PumpAsync(CancellationToken cancellationToken)
    {
        await foreach (var frame in _outbound.Reader.ReadAllAsync(cancellationToken))
        {
            await SendAsync(frame, cancellationToken);
        }
    }

    /// <summary>Stops the pump after what is queued.</summary>
    public void CompleteOutbound() => _outbound.Writer.TryComplete();

    protected abstract Task SendAsync(OutboundFrame frame, CancellationToken cancellationToken);

    /// <summary>Ends the connection's membership of the room (removed member, slow client).</summary>
    public abstract Task CloseAsync(ChatCloseReason reason);
}

public enum ChatCloseReason
{
    /// <summary>The user was removed from the room: close code 1008 (policy violation).</summary>
    Removed,

    /// <summary>The client did not read its frames: close code 1008 too, with its own reason text.</summary>
    TooSlow,
}
