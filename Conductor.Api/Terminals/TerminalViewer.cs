using System.Net.WebSockets;
using System.Text;
using System.Threading.Channels;

namespace Conductor.Api.Terminals;

/// <summary>
/// One viewer of a terminal: frames queue here and one loop sends them, in order. A viewer is a socket on this
/// instance, or a socket on another instance reached through <see cref="TerminalRelay"/> (its frames go to Redis).
/// </summary>
public sealed class TerminalViewer
{
    /// <summary>Frames a viewer may fall behind by before it is disconnected (the terminal never waits for one viewer).</summary>
    public const int QueueLimit = 4096;

    private readonly Channel<string> _outbound = Channel.CreateBounded<string>(new BoundedChannelOptions(QueueLimit) { SingleReader = true });
    private readonly Func<string, CancellationToken, Task> _send;
    private readonly Action _dropped;
    private volatile bool _stopped;

    /// <summary>A socket on this instance.</summary>
    public TerminalViewer(WebSocket socket, Guid userId, string login, Guid? sessionId)
        : this(userId, login, sessionId,
            (frame, cancellationToken) => socket.SendAsync(Encoding.UTF8.GetBytes(frame), WebSocketMessageType.Text, true, cancellationToken),
            () => _ = socket.CloseOutputAsync(WebSocketCloseStatus.PolicyViolation, "too slow", CancellationToken.None))
    {
    }

    /// <summary>A viewer whose frames go through <paramref name="send"/>; <paramref name="dropped"/> runs when it falls too far behind.</summary>
    public TerminalViewer(Guid userId, string login, Guid? sessionId, Func<string, CancellationToken, Task> send, Action dropped)
    {
        UserId = userId;
        Login = login;
        SessionId = sessionId;
        _send = send;
        _dropped = dropped;
    }

    public Guid UserId { get; }
    public string Login { get; }

    /// <summary>The session the viewer signed in with: its frames are refused once it signs out.</summary>
    public Guid? SessionId { get; }

    /// <summary>False when the viewer is too far behind (the caller drops it).</summary>
    public bool Enqueue(string frame) => _outbound.Writer.TryWrite(frame);

    public void Complete() => _outbound.Writer.TryComplete();

    /// <summary>
    /// Ends the queue without sending what is still in it (the session signed out): the pump returns after the frame
    /// it is sending, so the socket can then be closed politely.
    /// </summary>
    public void Stop()
    {
        _stopped = true;
        _outbound.Writer.TryComplete();
    }

    /// <summary>Tells the viewer's far end it was dropped for falling behind.</summary>
    public void Dropped() => _dropped();

    public async Task PumpAsync(CancellationToken cancellationToken)
    {
        await foreach (var frame in _outbound.Reader.ReadAllAsync(cancellationToken))
        {
            if (_stopped)
            {
                return;
            }
            await _send(frame, cancellationToken);
        }
    }
}
