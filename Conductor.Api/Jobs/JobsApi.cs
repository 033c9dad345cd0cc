using System.Text.Json;
using System.Text.Json.Serialization;
using Conductor.Api.Rooms;
using Conductor.Jobs;
using Microsoft.AspNetCore.Http.HttpResults;

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

public static class JobsApi
{
    public static RouteGroupBuilder MapJobsApi(this IEndpointRouteBuilder endpoints)
    {
        var group = endpoints.MapGroup("/jobs").WithTags("Jobs");
        group.MapGet("/{id}", GetJobAsync).WithName("GetJob");
        return group;
    }

    // The id is taken as text (no :guid route constraint) so that a malformed id is a 400, not a confusing 404.
    internal static async Task<Results<Ok<JobStatusResponse>, ProblemHttpResult>> GetJobAsync(string id, HttpContext context, IJobQueue jobs,
        IRoomMembership membership, CancellationToken cancellationToken)
    {
        if (!Guid.TryParse(id, out var jobId))
        {
            return ApiProblems.MalformedId("job_id", id);
        }
        var job = await jobs.GetAsync(jobId, cancellationToken);
        // A job is a room resource: missing and in a room the caller is not in answer alike, so job ids cannot be probed.
        if (job is null || await membership.CheckAsync(job.RoomId, context.User, cancellationToken) is not null)
        {
            return ApiProblems.NotFound("Job", id);
        }
        return TypedResults.Ok(JobStatusResponse.From(job));
    }
}
