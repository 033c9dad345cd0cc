using System.Net.WebSockets;
using System.Text;
using System.Threading.Channels;

namespace Conductor.Api.Terminals;

/// <summary>One socket watching a terminal: frames queue here and one loop sends them, in order.</summary>
public sealed class TerminalViewer(WebSocket socket, Guid userId, string login)
{
    /// <summary>Frames a viewer may fall behind by before it is disconnected (the terminal never waits for one viewer).</summary>
    public const int QueueLimit = 4096;

    private readonly Channel<string> _outbound = Channel.CreateBounded<string>(new BoundedChannelOptions(QueueLimit) { SingleReader = true });

    public Guid UserId { get; } = userId;
    public string Login { get; } = login;
    public WebSocket Socket { get; } = socket;

    /// <summary>False when the viewer is too far behind (the caller drops it).</summary>
    public bool Enqueue(string frame) => _outbound.Writer.TryWrite(frame);

    public void Complete() => _outbound.Writer.TryComplete();

    public async Task PumpAsync(CancellationToken cancellationToken)
    {
        await foreach (var frame in _outbound.Reader.ReadAllAsync(cancellationToken))
        {
            await Socket.SendAsync(Encoding.UTF8.GetBytes(frame), WebSocketMessageType.Text, true, cancellationToken);
        }
    }
}
