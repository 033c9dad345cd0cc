using System.Text.Json;
using Conductor.Jobs;
using StackExchange.Redis;

namespace Conductor.Api.Rooms;

/// <summary>
/// Publishes after the change committed. Postgres holds the truth; a lost event (Redis down) costs a live update,
/// not data, so a failed publish is logged, not turned into a failed request for a change that already happened.
/// </summary>
public sealed partial class RoomEventPublisher(IConnectionMultiplexer redis, RoomStateCache cache, ILogger<RoomEventPublisher> logger)
{
    public Task PublishAsync(RoomEvent roomEvent, CancellationToken cancellationToken) =>
        PublishAsync(roomEvent.RoomId, roomEvent.Type, roomEvent, cancellationToken);

    /// <summary>
    /// Any other room event (commands, terminals): <paramref name="payload"/> serialised snake_case, with its
    /// <c>type</c> first. Returns the event id, or null when Redis could not take it.
    /// </summary>
    public async Task<string?> PublishAsync<T>(Guid roomId, string type, T payload, CancellationToken cancellationToken)
    {
        // This instance forgets the room's cached state whether or not the event gets through Redis.
        if (RoomEvent.ChangesAccess(type))
        {
            cache.Invalidate(roomId);
        }
        try
        {
            return await RoomEventLog.PublishAsync(redis.GetDatabase(), roomId, JsonSerializer.Serialize(payload, RoomEvent.SerializerOptions), cancellationToken);
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            LogPublishFailed(logger, ex, type, roomId);
            return null;
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not publish {EventType} for room {RoomId}; clients see it on their next refresh")]
    private static partial void LogPublishFailed(ILogger logger, Exception exception, string eventType, Guid roomId);
}
