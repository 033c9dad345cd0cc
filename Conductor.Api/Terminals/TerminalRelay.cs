using System.Collections.Concurrent;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using Conductor.Api.Auth;
using Conductor.Api.Rooms;
using StackExchange.Redis;

namespace Conductor.Api.Terminals;

/// <summary>
/// Lets a member connected to one Api instance watch and type into a terminal another instance holds (its PTY is
/// there): the socket's instance relays over Redis pub/sub. The holder listens on <c>terminal:{room_id}:{terminal_id}:in</c>
/// for <see cref="RelayMessage"/>s (join, frame, leave); each relayed viewer's frames go back on
/// <c>terminal:{room_id}:{terminal_id}:out:{viewer_id}</c>. The holder checks every frame exactly as for its own
/// sockets (<see cref="TerminalSocketEndpoint.HandleFrameAsync"/>), by the user id the relaying instance
/// authenticated. Redis pub/sub keeps each publisher's order, so output, input and the end arrive in order. The socket
/// belongs to the relaying instance, so that instance closes it when the viewer's session signs out (1008
/// <c>signed out</c>); the holder also drops a signed-out session's frames once it hears of the sign-out.
/// </summary>
public sealed partial class TerminalRelay(IConnectionMultiplexer redis, TerminalLocator locator, IRoomMembership membership, SessionRevocations revocations,
    TimeProvider time, ILogger<TerminalRelay> logger)
{
    /// <summary>The last message of a relayed viewer's stream (never a JSON frame).</summary>
    private const string EndMarker = "\u0004end";

    /// <summary>How long a relaying instance waits for the holder's first frame.</summary>
    private static readonly TimeSpan JoinTimeout = TimeSpan.FromSeconds(10);

    private readonly ConcurrentDictionary<TerminalSession, bool> _served = new();

    private static RedisChannel Inbound(Guid roomId, string terminalId) => RedisChannel.Literal($"terminal:{roomId:D}:{terminalId}:in");

    private static RedisChannel Outbound(Guid roomId, string terminalId, Guid viewerId) =>
        RedisChannel.Literal($"terminal:{roomId:D}:{terminalId}:out:{viewerId:D}");

    /// <summary>
    /// The holder's side: serves relayed viewers of <paramref name="session"/> until its shell ends. Idempotent (the
    /// endpoint calls it for every connection that opened or found the terminal here).
    /// </summary>
    public async Task ServeAsync(TerminalSession session)
    {
        if (!_served.TryAdd(session, true))
        {
            return;
        }
        var viewers = new ConcurrentDictionary<Guid, TerminalViewer>();
        var subscriber = redis.GetSubscriber();
        var queue = await subscriber.SubscribeAsync(Inbound(session.RoomId, session.TerminalId));
        // One message at a time, in order: a join is handled before that viewer's first frame.
        queue.OnMessage(async message => await HandleInboundAsync(session, viewers, message.Message.ToString()));
        _ = session.Exited.ContinueWith(async _ =>
        {
            // The registry has ended every viewer's queue (their exit frame and end marker follow); stop listening.
            await queue.UnsubscribeAsync();
            _served.TryRemove(session, out var _);
        }, CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default).Unwrap();
    }

    private async Task HandleInboundAsync(TerminalSession session, ConcurrentDictionary<Guid, TerminalViewer> viewers, string text)
    {
        RelayMessage? message;
        try
        {
            message = JsonSerializer.Deserialize<RelayMessage>(text, RoomEvent.SerializerOptions);
        }
        catch (JsonException)
        {
            return;
        }
        if (message is null)
        {
            return;
        }
        try
        {
            switch (message.Op)
            {
                case RelayMessage.Join when message.UserId is { } userId:
                    var outbound = Outbound(session.RoomId, session.TerminalId, message.ViewerId);
                    var publisher = redis.GetSubscriber();
                    var viewer = new TerminalViewer(userId, message.Login ?? "", message.SessionId,
                        (frame, _) => publisher.PublishAsync(outbound, frame),
                        () => viewers.TryRemove(message.ViewerId, out _));
                    if (!viewers.TryAdd(message.ViewerId, viewer))
                    {
                        return;
                    }
                    session.Join(viewer, scrollback => TerminalFrames.Ready(session, session.CanWrite(userId), scrollback));
                    _ = Task.Run(async () =>
                    {
                        try
                        {
                            await viewer.PumpAsync(CancellationToken.None);
                        }
                        catch (RedisException exception)
                        {
                            LogRelayFailed(logger, exception, session.TerminalId, session.RoomId);
                        }
                        finally
                        {
                            viewers.TryRemove(message.ViewerId, out _);
                            await publisher.PublishAsync(outbound, EndMarker);
                        }
                    });
                    return;
                case RelayMessage.Frame when message.Data is { } data && viewers.TryGetValue(message.ViewerId, out var sender):
                    await TerminalSocketEndpoint.HandleFrameAsync(Encoding.UTF8.GetBytes(data), session, sender, membership, revocations, CancellationToken.None);
                    return;
                case RelayMessage.Leave when viewers.TryRemove(message.ViewerId, out var leaving):
                    session.Leave(leaving);
                    return;
                default:
                    return;
            }
        }
        catch (Exception exception) when (exception is RedisException or InvalidOperationException or IOException)
        {
            LogRelayFailed(logger, exception, session.TerminalId, session.RoomId);
        }
    }

    /// <summary>
    /// The relaying side: the socket on this instance watches (and, when allowed, types into) the terminal another
    /// instance holds. False when the holder did not answer (its instance is gone or not listening): the caller
    /// tells the client. When <paramref name="signedIn"/>'s session signs out, the socket closes with 1008 <c>signed out</c>.
    /// </summary>
    public async Task<bool> RelayAsync(WebSocket socket, Guid roomId, string terminalId, Guid userId, string login, SessionConnection signedIn,
        CancellationToken cancellationToken)
    {
        var viewerId = Guid.NewGuid();
        var subscriber = redis.GetSubscriber();
        var inbound = Inbound(roomId, terminalId);
        var queue = await subscriber.SubscribeAsync(Outbound(roomId, terminalId, viewerId));
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        // The holder's frames, a refused oversized frame, the watchdog's notice and the close share the socket: one
        // send at a time, and none after the close.
        using var sending = new SemaphoreSlim(1, 1);
        var closed = false;
        async Task SendAsync(string frame, CancellationToken token)
        {
            await sending.WaitAsync(token);
            try
            {
                if (!closed)
                {
                    await socket.SendAsync(Encoding.UTF8.GetBytes(frame), WebSocketMessageType.Text, true, token);
                }
            }
            finally
            {
                sending.Release();
            }
        }
        var signedOut = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var signedOutRegistration = signedIn.SignedOut.Register(() => signedOut.TrySetResult());
        var joined = false;
        try
        {
            var listeners = await subscriber.PublishAsync(inbound,
                Serialize(new RelayMessage(RelayMessage.Join, viewerId, userId, login, SessionId: signedIn.SessionId)));
            if (listeners == 0)
            {
                return false;
            }
            using (var first = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, signedIn.SignedOut))
            {
                first.CancelAfter(JoinTimeout);
                ChannelMessage ready;
                try
                {
                    ready = await queue.ReadAsync(first.Token);
                }
                catch (OperationCanceledException) when (signedIn.IsSignedOut && !cancellationToken.IsCancellationRequested)
                {
                    joined = true; // the holder may have added the viewer meanwhile: the finally's leave removes it
                    await CloseAsync(socket, SessionConnections.SignedOutCloseStatus, SessionConnections.SignedOutCloseReason, null);
                    return true;
                }
                catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                {
                    return false;
                }
                joined = true;
                if (ready.Message == EndMarker)
                {
                    return true;
                }
                await SendAsync(ready.Message.ToString(), cancellationToken);
            }

            var outbound = PumpToSocketAsync(queue, SendAsync, stop.Token);
            // Once signed out, nothing the client still sends is forwarded (the holder would drop it too, once it knows).
            var inboundFrames = TerminalSocketEndpoint.ReadFramesAsync(socket,
                frame => signedIn.IsSignedOut ? Task.CompletedTask
                    : subscriber.PublishAsync(inbound, Serialize(new RelayMessage(RelayMessage.Frame, viewerId, Data: Encoding.UTF8.GetString(frame.Span)))),
                () => _ = SendAsync(TerminalSocketEndpoint.TooLargeFrame, stop.Token),
                stop.Token);
            var holderGone = WatchLeaseAsync(roomId, terminalId, SendAsync, stop.Token);
            await Task.WhenAny(outbound, inboundFrames, holderGone, signedOut.Task);
            // Close politely before cancelling the pending receive (cancelling it aborts the connection): the exit
            // frame already sent is then followed by a normal close, as on the holder's own sockets.
            var (status, reason) = signedIn.IsSignedOut ? (SessionConnections.SignedOutCloseStatus, SessionConnections.SignedOutCloseReason)
                : (WebSocketCloseStatus.NormalClosure, "terminal ended");
            // After the send in progress, if any (a client too slow to take it for 5 s is closed regardless).
            var held = await sending.WaitAsync(TimeSpan.FromSeconds(5), CancellationToken.None);
            try
            {
                closed = true;
                await CloseAsync(socket, status, reason, inboundFrames);
            }
            finally
            {
                if (held)
                {
                    sending.Release();
                }
            }
            return true;
        }
        finally
        {
            await stop.CancelAsync();
            if (joined)
            {
                try
                {
                    await subscriber.PublishAsync(inbound, Serialize(new RelayMessage(RelayMessage.Leave, viewerId)));
                }
                catch (RedisException exception)
                {
                    LogRelayFailed(logger, exception, terminalId, roomId);
                }
            }
            await queue.UnsubscribeAsync();
        }
    }

    /// <summary>Closes the socket politely, then waits (a while) for the client's answer: <paramref name="receiving"/> ends with it.</summary>
    private static async Task CloseAsync(WebSocket socket, WebSocketCloseStatus status, string reason, Task? receiving)
    {
        if (socket.State is not (WebSocketState.Open or WebSocketState.CloseReceived))
        {
            return;
        }
        using var closing = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        try
        {
            await socket.CloseOutputAsync(status, reason, closing.Token);
            if (receiving is not null)
            {
                await receiving.WaitAsync(closing.Token);
            }
        }
        catch (Exception exception) when (exception is WebSocketException or OperationCanceledException)
        {
        }
    }

    /// <summary>The holder's frames to the socket, until its end marker (the shell ended, or this viewer was dropped).</summary>
    private static async Task PumpToSocketAsync(ChannelMessageQueue queue, Func<string, CancellationToken, Task> send, CancellationToken cancellationToken)
    {
        while (true)
        {
            var message = await queue.ReadAsync(cancellationToken);
            if (message.Message == EndMarker)
            {
                return;
            }
            await send(message.Message.ToString(), cancellationToken);
        }
    }

    /// <summary>
    /// Ends the relay when the holder's lease has run out (its instance died without ending the viewers). Two ticks
    /// in a row: a terminal that just ended gives its lease up a moment before its exit frame arrives here.
    /// </summary>
    private async Task WatchLeaseAsync(Guid roomId, string terminalId, Func<string, CancellationToken, Task> send, CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(TerminalLocator.LeaseTime / 3, time);
        var missed = 0;
        while (await timer.WaitForNextTickAsync(cancellationToken))
        {
            missed = await locator.IsElsewhereAsync(roomId, terminalId, cancellationToken) ? 0 : missed + 1;
            if (missed >= 2)
            {
                await send(TerminalFrames.Error(TerminalSocketEndpoint.OtherInstanceCode,
                    "The Api instance holding this terminal has gone; the terminal ended with it."), cancellationToken);
                return;
            }
        }
    }

    private static string Serialize(RelayMessage message) => JsonSerializer.Serialize(message, RoomEvent.SerializerOptions);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Relaying terminal {TerminalId} in room {RoomId} failed")]
    private static partial void LogRelayFailed(ILogger logger, Exception exception, string terminalId, Guid roomId);
}
