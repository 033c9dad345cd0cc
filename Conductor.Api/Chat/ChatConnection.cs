using System.Threading.Channels;

namespace Conductor.Api.Chat;

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
