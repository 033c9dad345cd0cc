using System.Text.Json;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Conductor.Api.Rooms;

/// <summary>
/// Keeps this instance's <see cref="RoomStateCache"/> honest: subscribes to every room's events channel and drops a
/// room's cached state when its membership or state changes; suspends the cache while the subscription is down (events
/// published meanwhile are lost) and resumes it a second after it is back (StackExchange.Redis resubscribes after it
/// reports the connection restored); sweeps expired entries.
/// </summary>
public sealed partial class RoomEventListener(IConnectionMultiplexer redis, RoomStateCache cache, IOptions<RoomStateCacheOptions> options,
    TimeProvider timeProvider, ILogger<RoomEventListener> logger) : BackgroundService
{
    /// <summary>Matches <c>room:{id}:events</c>.</summary>
    public const string AllRoomEvents = "room:*:events";

    private ChannelMessageQueue? _subscription;
    private int _failures;

    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        // Subscribed before the server listens: no access decision is cached that an event could not reach.
        _subscription = await redis.GetSubscriber().SubscribeAsync(RedisChannel.Pattern(AllRoomEvents)).WaitAsync(cancellationToken);
        _subscription.OnMessage(OnEvent);
        redis.ConnectionFailed += OnConnectionFailed;
        redis.ConnectionRestored += OnConnectionRestored;
        await base.StartAsync(cancellationToken);
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);
        redis.ConnectionFailed -= OnConnectionFailed;
        redis.ConnectionRestored -= OnConnectionRestored;
        if (_subscription is not null)
        {
            await _subscription.UnsubscribeAsync();
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.Lifetime, timeProvider);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            cache.Sweep();
        }
    }

    private void OnEvent(ChannelMessage message)
    {
        var channel = message.Channel.ToString();
        // "room:" + 36-char UUID + ":events"
        if (channel.Length < 41 || !Guid.TryParseExact(channel.AsSpan(5, 36), "D", out var roomId))
        {
            return;
        }
        if (IsStateChange((byte[]?)message.Message))
        {
            cache.Invalidate(roomId);
        }
    }

    /// <summary>Membership and room events change the state; job progress (the same channel) does not.</summary>
    private static bool IsStateChange(byte[]? payload)
    {
        if (payload is null)
        {
            return false;
        }
        try
        {
            var reader = new Utf8JsonReader(payload);
            using var document = JsonDocument.ParseValue(ref reader);
            return document.RootElement.ValueKind == JsonValueKind.Object
                && document.RootElement.TryGetProperty("type", out var type) && type.ValueKind == JsonValueKind.String
                && RoomEvent.ChangesAccess(type.GetString());
        }
        catch (JsonException)
        {
            return false;
        }
    }

    // Any connection, not only the subscription one: over RESP3 one connection carries both.
    private void OnConnectionFailed(object? sender, ConnectionFailedEventArgs e)
    {
        Interlocked.Increment(ref _failures);
        LogSuspended(logger, e.ConnectionType, e.FailureType);
        cache.Suspend();
    }

    private void OnConnectionRestored(object? sender, ConnectionFailedEventArgs e)
    {
        var failures = Volatile.Read(ref _failures);
        _ = Task.Delay(TimeSpan.FromSeconds(1), timeProvider).ContinueWith(_ =>
        {
            // Not if it failed again meanwhile (that failure's own restore resumes it).
            if (Volatile.Read(ref _failures) == failures && redis.IsConnected)
            {
                cache.Resume();
                LogResumed(logger);
            }
        }, TaskScheduler.Default);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Redis connection ({ConnectionType}) lost ({FailureType}); room access is read from Postgres until it is back")]
    private static partial void LogSuspended(ILogger logger, ConnectionType connectionType, ConnectionFailureType failureType);

    [LoggerMessage(Level = LogLevel.Information, Message = "Redis subscription restored; room state is cached again")]
    private static partial void LogResumed(ILogger logger);
}
