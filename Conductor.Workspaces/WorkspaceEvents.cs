using System.Text.Json;
using System.Text.Json.Serialization;
using Conductor.Jobs;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;

namespace Conductor.Workspaces;

/// <summary>
/// Workspace events on the room's channel (<c>room:{room_id}:events</c>, relayed to both chat transports):
/// <c>{type:"workspace", room_id, status, error?, head_commit?}</c> and
/// <c>{type:"file_changed", room_id, path, change, user_id, from?}</c>. Best effort: Postgres and the disk hold the truth.
/// </summary>
public sealed partial class WorkspaceEvents(IConnectionMultiplexer redis, ILogger<WorkspaceEvents> logger)
{
    private static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    public Task PublishStatusAsync(Guid roomId, string status, string? error, string? headCommit, CancellationToken cancellationToken) =>
        PublishAsync(roomId, new StatusEvent("workspace", roomId, status, error, headCommit), cancellationToken);

    public Task PublishFileChangedAsync(Guid roomId, string path, string change, Guid userId, string? from, CancellationToken cancellationToken) =>
        PublishAsync(roomId, new FileChangedEvent("file_changed", roomId, path, change, userId, from), cancellationToken);

    private async Task PublishAsync<T>(Guid roomId, T payload, CancellationToken cancellationToken)
    {
        try
        {
            await redis.GetSubscriber().PublishAsync(RedisChannel.Literal(JobEvent.ChannelFor(roomId)), JsonSerializer.Serialize(payload, Json))
                .WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            LogPublishFailed(logger, ex, roomId);
        }
    }

    private sealed record StatusEvent(string Type, Guid RoomId, string Status, string? Error, string? HeadCommit);

    private sealed record FileChangedEvent(string Type, Guid RoomId, string Path, string Change, Guid UserId, string? From);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not publish a workspace event for room {RoomId}")]
    private static partial void LogPublishFailed(ILogger logger, Exception exception, Guid roomId);
}
