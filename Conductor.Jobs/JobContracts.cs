using System.Text.Json;
using System.Text.Json.Serialization;

namespace Conductor.Jobs;

/// <summary>
/// queued → running → succeeded; a failed attempt goes back to queued (with <c>next_attempt_at</c>) until
/// <c>max_attempts</c>, then dead. <see cref="Failed"/> is a failure the handler declared not worth retrying.
/// </summary>
public enum JobStatus
{
    Queued,
    Running,
    Succeeded,
    Failed,
    Dead,
}

public static class JobStatusNames
{
    public static string ToName(this JobStatus status) => status switch
    {
        JobStatus.Queued => "queued",
        JobStatus.Running => "running",
        JobStatus.Succeeded => "succeeded",
        JobStatus.Failed => "failed",
        JobStatus.Dead => "dead",
        _ => throw new ArgumentOutOfRangeException(nameof(status), status, null),
    };

    public static JobStatus Parse(string name) => name switch
    {
        "queued" => JobStatus.Queued,
        "running" => JobStatus.Running,
        "succeeded" => JobStatus.Succeeded,
        "failed" => JobStatus.Failed,
        "dead" => JobStatus.Dead,
        _ => throw new ArgumentOutOfRangeException(nameof(name), name, "Unknown job status."),
    };

    public static bool IsFinal(this JobStatus status) => status is JobStatus.Succeeded or JobStatus.Failed or JobStatus.Dead;
}

/// <summary>What a caller asks for. The payload must not carry secrets: it is stored and shown as it is.</summary>
public sealed record NewJob(Guid RoomId, string Kind, JsonElement Payload)
{
    /// <summary>Jobs with the same key (a room's workspace) never run at the same time. Null: no constraint.</summary>
    public string? ConcurrencyKey { get; init; }

    /// <summary>Null takes <see cref="JobQueueOptions.MaxAttempts"/>.</summary>
    public int? MaxAttempts { get; init; }
}

/// <summary>A job as Postgres holds it.</summary>
public sealed record JobRecord(
    Guid Id,
    Guid RoomId,
    string Kind,
    JsonElement Payload,
    JobStatus Status,
    int Attempts,
    int MaxAttempts,
    string? ConcurrencyKey,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt,
    DateTimeOffset? StartedAt,
    DateTimeOffset? FinishedAt,
    DateTimeOffset? NextAttemptAt,
    string? Error,
    JsonElement? Result,
    string? LockedBy,
    DateTimeOffset? LeaseExpiresAt);

/// <summary>Published on <c>room:{room_id}:events</c> as <c>{"type":"job", "job_id", "kind", "status", "progress"?, "message"?}</c>.</summary>
public sealed record JobEvent(
    [property: JsonPropertyName("job_id")] Guid JobId,
    [property: JsonPropertyName("kind")] string Kind,
    [property: JsonPropertyName("status")] string Status,
    [property: JsonPropertyName("progress")] double? Progress = null,
    [property: JsonPropertyName("message")] string? Message = null)
{
    [JsonPropertyName("type")]
    [JsonPropertyOrder(-1)]
    public string Type => "job";

    public static string ChannelFor(Guid roomId) => $"room:{roomId:D}:events";

    internal static readonly JsonSerializerOptions SerializerOptions = new()
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    public string ToJson() => JsonSerializer.Serialize(this, SerializerOptions);
}

/// <summary>Puts jobs on the queue. Used by the Api; the GitWorker runs them.</summary>
public interface IJobQueue
{
    /// <summary>Stores the job (status queued) and then sends its id on the stream. Once this returns, the job
    /// runs at least once even if Redis loses the stream entry (the recovery sweep re-sends it).</summary>
    Task<JobRecord> EnqueueAsync(NewJob job, CancellationToken cancellationToken);

    Task<JobRecord?> GetAsync(Guid jobId, CancellationToken cancellationToken);
}

public static class JobQueueExtensions
{
    public static Task<JobRecord> EnqueueAsync<TPayload>(this IJobQueue queue, Guid roomId, string kind, TPayload payload,
        string? concurrencyKey, CancellationToken cancellationToken) =>
        queue.EnqueueAsync(new NewJob(roomId, kind, JsonSerializer.SerializeToElement(payload)) { ConcurrencyKey = concurrencyKey }, cancellationToken);
}
