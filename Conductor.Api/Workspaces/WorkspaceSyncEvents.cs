using System.Text.Json;
using System.Text.Json.Serialization;
using Conductor.Jobs;
using StackExchange.Redis;

namespace Conductor.Api.Workspaces;

/// <summary>
/// <c>{type:"workspace_sync", room_id, user_id, login, action, status, head_commit, conflicts, ref?}</c> on the room's
/// channel (<c>room:{room_id}:events</c>, relayed to sockets and the hub) for every sync, publish and push to the git
/// remote. Best effort, like every room event: the audit trail holds the record.
/// </summary>
public sealed partial class WorkspaceSyncEvents(IConnectionMultiplexer redis, TimeProvider time, ILogger<WorkspaceSyncEvents> logger)
{
    public const string Type = "workspace_sync";

    private static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    public async Task PublishAsync(Guid roomId, Guid userId, string login, string action, string status, string? headCommit, int conflicts, string? reference,
        CancellationToken cancellationToken)
    {
        var payload = new SyncEvent(Type, roomId, userId, login, action, status, headCommit, conflicts, reference, time.GetUtcNow());
        try
        {
            await redis.GetSubscriber().PublishAsync(RedisChannel.Literal(JobEvent.ChannelFor(roomId)), JsonSerializer.Serialize(payload, Json))
                .WaitAsync(cancellationToken);
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            LogPublishFailed(logger, ex, roomId);
        }
    }

    private sealed record SyncEvent(string Type, Guid RoomId, Guid UserId, string Login, string Action, string Status, string? HeadCommit,
        int Conflicts, string? Ref, DateTimeOffset At);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not publish a sync event for room {RoomId}")]
    private static partial void LogPublishFailed(ILogger logger, Exception exception, Guid roomId);
}
