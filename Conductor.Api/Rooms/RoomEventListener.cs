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
    TimeProvider timeProvider, ILogger<RoomEventListener> logger) : RedisListener(redis, RedisChannel.Pattern(AllRoomEvents), timeProvider)
{
    /// <summary>Matches <c>room:{id}:events</c>.</summary>
    public const string AllRoomEvents = "room:*:events";

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.Lifetime, Time);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            cache.Sweep();
        }
    }

    protected override void OnMessage(ChannelMessage message)
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

    protected override void OnConnectionLost(ConnectionFailedEventArgs e)
    {
        LogSuspended(logger, e.ConnectionType, e.FailureType);
        cache.Suspend();
    }

    protected override Task OnConnectionBackAsync()
    {
        cache.Resume();
        LogResumed(logger);
        return Task.CompletedTask;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Redis connection ({ConnectionType}) lost ({FailureType}); room access is read from Postgres until it is back")]
    private static partial void LogSuspended(ILogger logger, ConnectionType connectionType, ConnectionFailureType failureType);

    [LoggerMessage(Level = LogLevel.Information, Message = "Redis subscription restored; room state is cached again")]
    private static partial void LogResumed(ILogger logger);
}
