using System.Collections.Concurrent;
using System.Text.Json;
using System.Threading.Channels;
using Conductor.Api.Rooms;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Conductor.Api.Chat;

/// <summary>
/// Each Api instance's half of the scale-out: one pattern subscription to <c>room:*</c> for the whole instance, and
/// per room with local connections a feed that delivers chat messages in seq order (the database's order) whatever
/// order Redis brought them in, filling gaps from Postgres. It also keeps the instance's presence entries alive.
/// </summary>
public sealed partial class ChatFanout(
    IConnectionMultiplexer redis,
    ChatStore store,
    ChatPresence presence,
    IPresence roomPresence,
    IOptions<ChatOptions> options,
    TimeProvider timeProvider,
    ILogger<ChatFanout> logger) : BackgroundService
{
    private readonly ConcurrentDictionary<Guid, RoomFeed> _feeds = new();
    private readonly Lock _membershipLock = new();
    private ChannelMessageQueue? _subscription;

    // The nested feeds cannot see the primary constructor's parameters.
    private ChatStore Store => store;
    private ILogger Logger => logger;
    private ChatOptions Options => options.Value;
    private TimeProvider Time => timeProvider;

    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        // Subscribed before the server listens, so no connection can join a room this instance is deaf to. A message
        // queue (not a handler) because StackExchange.Redis runs handlers concurrently; the queue hands messages over
        // one at a time, in the order Redis sent them. StackExchange.Redis resubscribes by itself after a reconnect.
        _subscription = await redis.GetSubscriber().SubscribeAsync(RedisChannel.Pattern(ChatChannels.AllRooms)).WaitAsync(cancellationToken);
        _subscription.OnMessage(OnRoomMessage);
        redis.ConnectionRestored += OnConnectionRestored;
        await base.StartAsync(cancellationToken);
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);
        redis.ConnectionRestored -= OnConnectionRestored;
        if (_subscription is not null)
        {
            await _subscription.UnsubscribeAsync();
        }
        foreach (var feed in _feeds.Values)
        {
            feed.Stop();
        }
    }

    /// <summary>Refreshes this instance's presence entries until shutdown.</summary>
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.PresenceRefresh, timeProvider);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            foreach (var feed in _feeds.Values)
            {
                foreach (var connection in feed.Snapshot())
                {
                    try
                    {
                        await presence.AddAsync(connection.RoomId, connection.Caller.UserId, connection.Caller.Login, connection.ConnectionId, stoppingToken);
                        await roomPresence.ConnectedAsync(connection.RoomId, connection.Caller.UserId, connection.ConnectionId, stoppingToken);
                    }
                    catch (Exception exception) when (exception is RedisException or TimeoutException)
                    {
                        LogPresenceFailed(logger, exception, connection.RoomId);
                    }
                }
            }
        }
    }

    /// <summary>
    /// Adds a connection to its room's feed; returns once the feed knows where the room's sequence stands (so the
    /// client's own first message cannot be mistaken for an old one). Announces the user when it is their first
    /// connection in the room on any instance.
    /// </summary>
    public async Task JoinAsync(ChatConnection connection, CancellationToken cancellationToken)
    {
        RoomFeed feed;
        lock (_membershipLock)
        {
            feed = _feeds.GetOrAdd(connection.RoomId, roomId => new RoomFeed(roomId, this));
            feed.Add(connection);
        }
        await feed.Ready.WaitAsync(cancellationToken);
        // The rooms feature's presence (GET /rooms/{id}) and chat's own, which also knows logins and first/last connections.
        await roomPresence.ConnectedAsync(connection.RoomId, connection.Caller.UserId, connection.ConnectionId, cancellationToken);
        if (await presence.AddAsync(connection.RoomId, connection.Caller.UserId, connection.Caller.Login, connection.ConnectionId, cancellationToken) == 1)
        {
            await PublishPresenceAsync("user_joined", connection, cancellationToken);
        }
    }

    /// <summary>Removes a connection; announces the user's departure when it was their last connection in the room.</summary>
    public async Task LeaveAsync(ChatConnection connection, CancellationToken cancellationToken)
    {
        lock (_membershipLock)
        {
            if (_feeds.TryGetValue(connection.RoomId, out var feed) && feed.Remove(connection) && feed.IsEmpty)
            {
                _feeds.TryRemove(connection.RoomId, out _);
                feed.Stop();
            }
        }
        connection.CompleteOutbound();
        try
        {
            await roomPresence.DisconnectedAsync(connection.RoomId, connection.Caller.UserId, connection.ConnectionId, cancellationToken);
            if (await presence.RemoveAsync(connection.RoomId, connection.Caller.UserId, connection.ConnectionId, cancellationToken) == 0)
            {
                await PublishPresenceAsync("user_left", connection, cancellationToken);
            }
        }
        catch (Exception exception) when (exception is RedisException or TimeoutException)
        {
            // The entry runs out by itself after PresenceLifetime.
            LogPresenceFailed(logger, exception, connection.RoomId);
        }
    }

    /// <summary>Local connections in a room (for tests and diagnostics).</summary>
    public int LocalConnectionCount(Guid roomId) => _feeds.TryGetValue(roomId, out var feed) ? feed.Snapshot().Count : 0;

    private async Task PublishPresenceAsync(string type, ChatConnection connection, CancellationToken cancellationToken)
    {
        await redis.GetSubscriber().PublishAsync(RedisChannel.Literal(ChatChannels.Chat(connection.RoomId)), JsonSerializer.SerializeToUtf8Bytes(new
        {
            type,
            room_id = connection.RoomId,
            user_id = connection.Caller.UserId,
            login = connection.Caller.Login,
        }, ChatJson.Options)).WaitAsync(cancellationToken);
    }

    /// <summary>
    /// Pub/sub keeps nothing for a subscriber that is away: whatever was published while this instance's connection
    /// was down (a Redis restart) never arrives, and a gap is only noticed when a later message does. So once the
    /// connection is back, every room with local clients catches up from Postgres.
    /// </summary>
    private void OnConnectionRestored(object? sender, ConnectionFailedEventArgs e)
    {
        LogConnectionRestored(logger, e.ConnectionType, _feeds.Count);
        foreach (var feed in _feeds.Values)
        {
            feed.CatchUp();
        }
    }

    private void OnRoomMessage(ChannelMessage message)
    {
        var channel = message.Channel.ToString();
        if (!ChatChannels.TryParse(channel, out var roomId) || !_feeds.TryGetValue(roomId, out var feed))
        {
            return; // no local client in that room
        }
        var bytes = (byte[]?)message.Message;
        var frame = bytes is null ? null : OutboundFrame.TryParse(bytes);
        if (frame is null)
        {
            LogMalformedEvent(logger, channel);
            return;
        }
        feed.Post(frame);
    }

    /// <summary>One room's local delivery: a single loop, so frames reach each connection in one order.</summary>
    private sealed class RoomFeed
    {
        private readonly Guid _roomId;
        private readonly ChatFanout _owner;
        private readonly List<ChatConnection> _connections = [];
        private readonly Channel<OutboundFrame> _incoming = Channel.CreateUnbounded<OutboundFrame>(new UnboundedChannelOptions { SingleReader = true });
        private readonly CancellationTokenSource _stop = new();
        private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);

        /// <summary>A frame no one else can post (compared by reference): the loop's cue to catch up from Postgres.</summary>
        private static readonly OutboundFrame CatchUpSignal = OutboundFrame.TryParse("{\"type\":\"catch_up\"}"u8.ToArray())!;

        /// <summary>At most this many messages are replayed after a reconnect; clients page further back through history.</summary>
        private const int MaxCatchUp = 500;

        public RoomFeed(Guid roomId, ChatFanout owner)
        {
            _roomId = roomId;
            _owner = owner;
            _ = Task.Run(RunAsync);
        }

        public Task Ready => _ready.Task;

        public bool IsEmpty => _connections.Count == 0;

        public void Add(ChatConnection connection)
        {
            lock (_connections)
            {
                _connections.Add(connection);
            }
        }

        public bool Remove(ChatConnection connection)
        {
            lock (_connections)
            {
                return _connections.Remove(connection);
            }
        }

        public IReadOnlyList<ChatConnection> Snapshot()
        {
            lock (_connections)
            {
                return [.. _connections];
            }
        }

        public void Post(OutboundFrame frame) => _incoming.Writer.TryWrite(frame);

        /// <summary>
        /// Asks the feed's loop to deliver whatever Postgres holds beyond what it delivered: now, and once more a
        /// second later for a message stored while the resubscription was still on its way.
        /// </summary>
        public void CatchUp()
        {
            _incoming.Writer.TryWrite(CatchUpSignal);
            _ = Task.Delay(TimeSpan.FromSeconds(1), _owner.Time, _stop.Token)
                .ContinueWith(_ => _incoming.Writer.TryWrite(CatchUpSignal), CancellationToken.None, TaskContinuationOptions.OnlyOnRanToCompletion, TaskScheduler.Default);
        }

        public void Stop()
        {
            _incoming.Writer.TryComplete();
            _stop.Cancel();
        }

        private async Task RunAsync()
        {
            var stop = _stop.Token;
            long next;
            try
            {
                next = await _owner.Store.GetLastSeqAsync(_roomId, stop) + 1;
            }
            catch (Exception exception) when (exception is not OperationCanceledException)
            {
                // Without the database's position, start from the first message Redis brings.
                LogSequenceUnknown(_owner.Logger, exception, _roomId);
                next = 0;
            }
            _ready.TrySetResult();
            var pending = new SortedDictionary<long, OutboundFrame>();
            try
            {
                while (true)
                {
                    OutboundFrame frame;
                    if (pending.Count == 0)
                    {
                        frame = await _incoming.Reader.ReadAsync(stop);
                    }
                    else
                    {
                        using var wait = CancellationTokenSource.CreateLinkedTokenSource(stop);
                        wait.CancelAfter(_owner.Options.GapWait);
                        try
                        {
                            frame = await _incoming.Reader.ReadAsync(wait.Token);
                        }
                        catch (OperationCanceledException) when (!stop.IsCancellationRequested)
                        {
                            next = await FillGapAsync(next, pending, stop);
                            continue;
                        }
                    }

                    if (ReferenceEquals(frame, CatchUpSignal))
                    {
                        next = await CatchUpAsync(next, pending, stop);
                        continue;
                    }
                    if (frame.Type == "chat" && frame.Element.TryGetProperty("seq", out var seqElement) && seqElement.TryGetInt64(out var seq))
                    {
                        if (next == 0)
                        {
                            next = seq;
                        }
                        if (seq < next)
                        {
                            continue; // already delivered (a resend, or a gap filled from Postgres)
                        }
                        pending.TryAdd(seq, frame);
                        next = DeliverInOrder(next, pending);
                    }
                    else
                    {
                        Deliver(frame);
                    }
                }
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
            }
            catch (ChannelClosedException)
            {
            }
        }

        private async Task<long> CatchUpAsync(long next, SortedDictionary<long, OutboundFrame> pending, CancellationToken stop)
        {
            try
            {
                var last = await _owner.Store.GetLastSeqAsync(_roomId, stop);
                if (next == 0)
                {
                    return last + 1; // nothing delivered yet: start from what comes next
                }
                if (last >= next)
                {
                    var from = Math.Max(next, last - MaxCatchUp + 1);
                    foreach (var message in await _owner.Store.GetRangeAsync(_roomId, from, last, stop))
                    {
                        pending.TryAdd(message.Seq, OutboundFrame.Create("chat", message));
                    }
                    LogCaughtUp(_owner.Logger, _roomId, from, last);
                    next = from;
                }
            }
            catch (Exception exception) when (exception is not OperationCanceledException)
            {
                // The next message's gap fill (or the client's history request) still brings what was missed.
                LogCatchUpFailed(_owner.Logger, exception, _roomId, next);
            }
            return DeliverInOrder(next, pending);
        }

        private long DeliverInOrder(long next, SortedDictionary<long, OutboundFrame> pending)
        {
            while (pending.Remove(next, out var frame))
            {
                Deliver(frame);
                next++;
            }
            return next;
        }

        private async Task<long> FillGapAsync(long next, SortedDictionary<long, OutboundFrame> pending, CancellationToken stop)
        {
            var upTo = pending.Keys.First() - 1;
            try
            {
                foreach (var message in await _owner.Store.GetRangeAsync(_roomId, next, upTo, stop))
                {
                    pending.TryAdd(message.Seq, OutboundFrame.Create("chat", message));
                }
                LogGapFilled(_owner.Logger, _roomId, next, upTo);
            }
            catch (Exception exception) when (exception is not OperationCanceledException)
            {
                LogGapFillFailed(_owner.Logger, exception, _roomId, next, upTo);
            }
            next = DeliverInOrder(next, pending);
            if (pending.Count > 0 && pending.Keys.First() > next)
            {
                // Postgres could not supply the gap: move on rather than hold the room forever (clients can still
                // read it through history).
                next = DeliverInOrder(pending.Keys.First(), pending);
            }
            return next;
        }

        private void Deliver(OutboundFrame frame)
        {
            var connections = Snapshot();
            Guid? removedUser = null;
            if (frame.Type == "member_removed" && frame.Element.TryGetProperty("user_id", out var userElement)
                && userElement.ValueKind == JsonValueKind.String && Guid.TryParse(userElement.GetString(), out var userId))
            {
                removedUser = userId;
            }
            foreach (var connection in connections)
            {
                connection.Enqueue(frame);
                if (removedUser == connection.Caller.UserId)
                {
                    _ = connection.CloseAsync(ChatCloseReason.Removed);
                }
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Ignored a malformed event on {Channel}")]
    private static partial void LogMalformedEvent(ILogger logger, string channel);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not read room {RoomId}'s sequence; ordering starts from the first message received")]
    private static partial void LogSequenceUnknown(ILogger logger, Exception exception, Guid roomId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Filled room {RoomId}'s gap {From}..{To} from Postgres")]
    private static partial void LogGapFilled(ILogger logger, Guid roomId, long from, long to);

    [LoggerMessage(Level = LogLevel.Error, Message = "Could not fill room {RoomId}'s gap {From}..{To} from Postgres")]
    private static partial void LogGapFillFailed(ILogger logger, Exception exception, Guid roomId, long from, long to);

    [LoggerMessage(Level = LogLevel.Information, Message = "Redis connection ({ConnectionType}) restored; {Rooms} room(s) with local clients catch up from Postgres")]
    private static partial void LogConnectionRestored(ILogger logger, ConnectionType connectionType, int rooms);

    [LoggerMessage(Level = LogLevel.Information, Message = "Room {RoomId} caught up {From}..{To} from Postgres after a reconnect")]
    private static partial void LogCaughtUp(ILogger logger, Guid roomId, long from, long to);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Room {RoomId} could not catch up from seq {From} after a reconnect")]
    private static partial void LogCatchUpFailed(ILogger logger, Exception exception, Guid roomId, long from);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Presence update for room {RoomId} failed")]
    private static partial void LogPresenceFailed(ILogger logger, Exception exception, Guid roomId);
}
