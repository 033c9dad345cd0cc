using System.Security.Claims;
using Conductor.Api.Rooms;
using Conductor.Workspaces;
using Conductor.Workspaces.SourceControl;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;

namespace Conductor.Api.Workspaces;

/// <summary>
/// The workspace's source-control view (what an IDE shows): changed files, a file's diff against the session
/// branch's HEAD, recent commits. Read-only, for any member; membership is checked per route as the other
/// workspace routes do it.
/// </summary>
public static class WorkspaceSourceControlApi
{
    public static RouteGroupBuilder MapWorkspaceSourceControlApi(this IEndpointRouteBuilder endpoints)
    {
        var group = endpoints.MapGroup("/workspace").WithTags("Workspaces");
        group.AddEndpointFilter(ProblemFilter);
        group.MapGet("/{roomId}/status", StatusAsync).WithName("GetWorkspaceStatus")
            .WithSummary("Changed files in the room's worktree, with their state");
        group.MapGet("/{roomId}/diff", DiffAsync).WithName("GetWorkspaceDiff")
            .WithSummary("A file's unified diff against the session branch's HEAD");
        group.MapGet("/{roomId}/log", LogAsync).WithName("GetWorkspaceLog")
            .WithSummary("Recent commits on the session branch");
        return group;
    }

    internal static async Task<Results<Ok<WorkspaceStatusResponse>, ProblemHttpResult>> StatusAsync(string roomId, ClaimsPrincipal user,
        [FromServices] IRoomMembership membership, [FromServices] WorkspaceSourceControl sourceControl, CancellationToken cancellationToken)
    {
        var room = ParseRoom(roomId);
        if (await membership.CheckAsync(room, user, cancellationToken) is ProblemHttpResult denied)
        {
            return denied;
        }
        return TypedResults.Ok(await sourceControl.StatusAsync(room, cancellationToken));
    }

    internal static async Task<Results<Ok<WorkspaceDiffResponse>, ProblemHttpResult>> DiffAsync(string roomId, string? path, ClaimsPrincipal user,
        [FromServices] IRoomMembership membership, [FromServices] WorkspaceSourceControl sourceControl, CancellationToken cancellationToken)
    {
        var room = ParseRoom(roomId);
        if (await membership.CheckAsync(room, user, cancellationToken) is ProblemHttpResult denied)
        {
            return denied;
        }
        return TypedResults.Ok(await sourceControl.DiffAsync(room, path, cancellationToken));
    }

    internal static async Task<Results<Ok<WorkspaceLogResponse>, ProblemHttpResult>> LogAsync(string roomId, int? limit, ClaimsPrincipal user,
        [FromServices] IRoomMembership membership, [FromServices] WorkspaceSourceControl sourceControl, CancellationToken cancellationToken)
    {
        var room = ParseRoom(roomId);
        if (await membership.CheckAsync(room, user, cancellationToken) is ProblemHttpResult denied)
        {
            return denied;
        }
        return TypedResults.Ok(await sourceControl.LogAsync(room, limit, cancellationToken));
    }

    private static Guid ParseRoom(string roomId) =>
        Guid.TryParse(roomId, out var id) ? id : throw new WorkspaceProblemException(400, "Malformed room id", "The room id is not a UUID.");

    /// <summary>The workspace layer's refusals (bad path or limit, no workspace, not ready) as problem details.</summary>
    private static async ValueTask<object?> ProblemFilter(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        try
        {
            return await next(context);
        }
        catch (WorkspaceProblemException ex)
        {
            return TypedResults.Problem(statusCode: ex.StatusCode, title: ex.Title, detail: ex.Message);
        }
    }
}
