using System.Text.Json;
using System.Text.Json.Serialization;
using Conductor.Jobs;

namespace Conductor.Api.Jobs;

/// <summary>A job's status as clients see it. The payload is left out: clients follow a job, they did not write it.</summary>
public sealed record JobStatusResponse(
    [property: JsonPropertyName("id")] Guid Id,
    [property: JsonPropertyName("room_id")] Guid RoomId,
    [property: JsonPropertyName("kind")] string Kind,
    [property: JsonPropertyName("status")] string Status,
    [property: JsonPropertyName("attempts")] int Attempts,
    [property: JsonPropertyName("max_attempts")] int MaxAttempts,
    [property: JsonPropertyName("concurrency_key")] string? ConcurrencyKey,
    [property: JsonPropertyName("created_at")] DateTimeOffset CreatedAt,
    [property: JsonPropertyName("updated_at")] DateTimeOffset UpdatedAt,
    [property: JsonPropertyName("started_at")] DateTimeOffset? StartedAt,
    [property: JsonPropertyName("finished_at")] DateTimeOffset? FinishedAt,
    [property: JsonPropertyName("next_attempt_at")] DateTimeOffset? NextAttemptAt,
    [property: JsonPropertyName("error")] string? Error,
    [property: JsonPropertyName("result")] JsonElement? Result)
{
    public static JobStatusResponse From(JobRecord job) => new(
        job.Id, job.RoomId, job.Kind, job.Status.ToName(), job.Attempts, job.MaxAttempts, job.ConcurrencyKey,
        job.CreatedAt, job.UpdatedAt, job.StartedAt, job.FinishedAt, job.NextAttemptAt, job.Error, job.Result);
}
