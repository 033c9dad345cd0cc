using System.Security.Claims;
using Conductor.Api.Rooms;
using Conductor.Workspaces.SourceControl;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;

namespace Conductor.Api.Workspaces;

/// <summary>
/// The workspace's source-control view (what an IDE shows): changed files, a file's diff against the session
/// branch's HEAD, recent commits. Read-only, for any member of the room.
/// </summary>
public static class WorkspaceSourceControlApi
{
    public static RouteGroupBuilder MapWorkspaceSourceControlApi(this IEndpointRouteBuilder endpoints)
    {
        var group = endpoints.MapGroup("/workspace").WithTags("Workspaces");
        // The workspace layer's refusals (bad path or limit, no workspace, not ready) as problem details.
        group.AddEndpointFilter(WorkspacesApi.ProblemFilter);
        group.MapGet("/{room_id}/status", StatusAsync).WithName("GetWorkspaceStatus").RequireRoomAccess()
            .WithSummary("Changed files in the room's worktree, with their state");
        group.MapGet("/{room_id}/diff", DiffAsync).WithName("GetWorkspaceDiff").RequireRoomAccess()
            .WithSummary("A file's unified diff against the session branch's HEAD");
        group.MapGet("/{room_id}/log", LogAsync).WithName("GetWorkspaceLog").RequireRoomAccess()
            .WithSummary("Recent commits on the session branch");
        return group;
    }

    internal static async Task<Ok<WorkspaceStatusResponse>> StatusAsync(RoomScope scope, [FromQuery(Name = "worktree")] string? worktree, ClaimsPrincipal user,
        [FromServices] WorkspaceSourceControl sourceControl, CancellationToken cancellationToken) =>
        TypedResults.Ok(await sourceControl.StatusAsync(WorktreeQuery.Parse(scope.RoomId, worktree, user), cancellationToken));

    internal static async Task<Ok<WorkspaceDiffResponse>> DiffAsync(RoomScope scope, string? path, [FromQuery(Name = "worktree")] string? worktree, ClaimsPrincipal user,
        [FromServices] WorkspaceSourceControl sourceControl, CancellationToken cancellationToken) =>
        TypedResults.Ok(await sourceControl.DiffAsync(WorktreeQuery.Parse(scope.RoomId, worktree, user), path, cancellationToken));

    internal static async Task<Ok<WorkspaceLogResponse>> LogAsync(RoomScope scope, int? limit,
        [FromServices] WorkspaceSourceControl sourceControl, CancellationToken cancellationToken) =>
        TypedResults.Ok(await sourceControl.LogAsync(scope.RoomId, limit, cancellationToken));
}
