using System.Collections.Concurrent;
using System.Text.Json;
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
    RoomStateCache roomState,
    IOptions<ChatOptions> options,
    TimeProvider timeProvider,
    ILogger<ChatFanout> logger) : BackgroundService
{
    private readonly ConcurrentDictionary<Guid, RoomFeed> _feeds = new();
    private readonly Lock _membershipLock = new();
    private ChannelMessageQueue? _subscription;

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

    /// <summary>
    /// Refreshes this instance's presence entries until shutdown: per room, one write for all its connections here,
    /// and many rooms at once (pipelined), so 5,000 connections cost a few hundred round trips, not 25,000.
    /// </summary>
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.PresenceRefresh, timeProvider);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            foreach (var chunk in _feeds.ToArray().Chunk(64))
            {
                await Task.WhenAll(chunk.Select(pair => RefreshPresenceAsync(pair.Key, pair.Value.Snapshot(), stoppingToken)));
            }
        }
    }

    private async Task RefreshPresenceAsync(Guid roomId, IReadOnlyList<ChatConnection> connections, CancellationToken cancellationToken)
    {
        try
        {
            await Task.WhenAll(
                presence.RefreshAsync(roomId, connections, cancellationToken),
                roomPresence.RefreshAsync(roomId, [.. connections.Select(c => (c.Caller.UserId, c.ConnectionId))], cancellationToken));
        }
        catch (Exception exception) when (exception is RedisException or TimeoutException)
        {
            LogPresenceFailed(logger, exception, roomId);
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
            feed = _feeds.GetOrAdd(connection.RoomId, roomId => new RoomFeed(roomId, store, options.Value, timeProvider, logger));
            feed.Add(connection);
        }
        await feed.Ready.WaitAsync(cancellationToken);
        // The rooms feature's presence (GET /rooms/{id}) and chat's own, which also knows logins and first/last connections.
        await roomPresence.ConnectedAsync(connection.RoomId, connection.Caller.UserId, connection.ConnectionId, cancellationToken);
        if (await presence.AddAsync(connection.RoomId, connection.Caller.UserId, connection.Caller.Login, connection.ConnectionId, cancellationToken) == 1)
        {
            await PublishPresenceAsync(UserPresenceFrame.Joined, connection, cancellationToken);
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
                await PublishPresenceAsync(UserPresenceFrame.Left, connection, cancellationToken);
            }
        }
        catch (Exception exception) when (exception is RedisException or TimeoutException)
        {
            // The entry runs out by itself after PresenceLifetime.
            LogPresenceFailed(logger, exception, connection.RoomId);
        }
    }

    /// <summary>
    /// Hands a message this instance just stored to the room's local feed at once, without waiting for its own publish
    /// to come back from Redis (a round trip less for local clients). The feed orders by seq as for anything else and
    /// drops the published copy when it arrives.
    /// </summary>
    public void PostStored(OutboundFrame frame, Guid roomId)
    {
        if (_feeds.TryGetValue(roomId, out var feed))
        {
            feed.Post(frame);
        }
    }

    /// <summary>Local connections in a room (for tests and diagnostics).</summary>
    public int LocalConnectionCount(Guid roomId) => _feeds.TryGetValue(roomId, out var feed) ? feed.Snapshot().Count : 0;

    private async Task PublishPresenceAsync(string type, ChatConnection connection, CancellationToken cancellationToken)
    {
        var frame = new UserPresenceFrame(type, connection.RoomId, connection.Caller.UserId, connection.Caller.Login);
        await redis.GetSubscriber().PublishAsync(RedisChannel.Literal(ChatChannels.Chat(connection.RoomId)),
            JsonSerializer.SerializeToUtf8Bytes(frame, ChatJson.Options)).WaitAsync(cancellationToken);
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
        if (!ChatChannels.TryParse(channel, out var roomId))
        {
            return;
        }
        var isEvent = channel.EndsWith(ChatChannels.EventsSuffix, StringComparison.Ordinal);
        var hasFeed = _feeds.TryGetValue(roomId, out var feed);
        if (!hasFeed && !isEvent)
        {
            return; // no local client in that room
        }
        if ((byte[]?)message.Message is not { } bytes)
        {
            LogMalformedEvent(logger, channel);
            return;
        }
        // A room's messages of one stored batch arrive as one payload (ChatMessageWriter), in seq order.
        foreach (var part in OutboundFrame.Split(bytes))
        {
            if (OutboundFrame.TryParse(part) is not { } frame)
            {
                LogMalformedEvent(logger, channel);
                continue;
            }
            if (isEvent && RoomEvent.ChangesAccess(frame.Type))
            {
                // RoomEventListener does this too, on its own subscription; here it happens before the event reaches this
                // instance's clients, so a client told it was removed is already refused.
                roomState.Invalidate(roomId);
            }
            feed?.Post(frame);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Ignored a malformed event on {Channel}")]
    private static partial void LogMalformedEvent(ILogger logger, string channel);

    [LoggerMessage(Level = LogLevel.Information, Message = "Redis connection ({ConnectionType}) restored; {Rooms} room(s) with local clients catch up from Postgres")]
    private static partial void LogConnectionRestored(ILogger logger, ConnectionType connectionType, int rooms);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Presence update for room {RoomId} failed")]
    private static partial void LogPresenceFailed(ILogger logger, Exception exception, Guid roomId);
}
