using Conductor.Api.Rooms;
using Conductor.Jobs;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Conductor.Api.Jobs;

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
