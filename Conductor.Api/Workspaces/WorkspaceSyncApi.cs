using System.Security.Claims;
using Conductor.Api.Audit;
using Conductor.Api.Auth;
using Conductor.Api.GitRemote;
using Conductor.Api.Rooms;
using Conductor.Workspaces.Personal;
using Conductor.Workspaces.Sync;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;

namespace Conductor.Api.Workspaces;

/// <summary>
/// Members' own worktrees and the SteadyState workflow: <c>sync</c> (commit the member's work, merge it three-way into
/// the room's branch, bring their worktree up to date) and <c>publish</c> (sync, then push the room's branch to
/// origin); and who may push to the room's git remote. Every sync and publish is a room event and an audit entry.
/// </summary>
public static class WorkspaceSyncApi
{
    public const string ConflictsCode = "sync_conflicts";

    public static RouteGroupBuilder MapWorkspaceSyncApi(this IEndpointRouteBuilder endpoints)
    {
        var group = endpoints.MapGroup("/workspace").WithTags("Workspaces");
        group.AddEndpointFilter(WorkspacesApi.ProblemFilter);
        group.MapGet("/{room_id}/worktrees/me", GetMyWorktreeAsync).WithName("GetMyWorktree").RequireRoomAccess()
            .WithSummary("The caller's own worktree (made from the room's branch on first use): commits ahead and behind, changed files");
        group.MapPost("/{room_id}/sync", SyncAsync).WithName("SyncWorkspace").RequireRoomAccess(write: true)
            .WithSummary("Commit the caller's worktree, merge it into the room's branch, and bring the worktree up to date");
        group.MapPost("/{room_id}/publish", PublishAsync).WithName("PublishWorkspace").RequireRoomAccess(write: true)
            .WithSummary("Sync, then push the room's branch to origin");
        group.MapPut("/{room_id}/pushers/{user_id}", AllowPushAsync).WithName("AllowGitPush").RequireRoomAccess(RoomRole.Host, write: true)
            .WithSummary("Let a member push to the room's session branches over the git remote");
        group.MapDelete("/{room_id}/pushers/{user_id}", DisallowPushAsync).WithName("DisallowGitPush").RequireRoomAccess(RoomRole.Host, write: true)
            .WithSummary("Take a member's push access back");
        return group;
    }

    internal static async Task<Ok<PersonalWorktreeState>> GetMyWorktreeAsync(RoomScope scope, ClaimsPrincipal user,
        [FromServices] PersonalWorktrees personal, CancellationToken cancellationToken) =>
        TypedResults.Ok(await personal.GetStateAsync(scope.RoomId, user.GetLogin(), cancellationToken));

    internal static async Task<Results<Ok<SyncResponse>, ProblemHttpResult>> SyncAsync(RoomScope scope, SyncRequest? request, ClaimsPrincipal user,
        [FromServices] WorkspaceSync sync, [FromServices] AuditLog audit, [FromServices] WorkspaceSyncEvents events, CancellationToken cancellationToken)
    {
        var outcome = await sync.SyncAsync(scope.RoomId, user.GetLogin(), request?.Message, cancellationToken);
        await RecordAsync(audit, events, user, outcome, AuditActions.Synced, cancellationToken);
        return outcome.Status == SyncStatus.Conflicts ? Conflicts(outcome) : TypedResults.Ok(SyncResponse.From(outcome));
    }

    internal static async Task<Results<Ok<PublishResponse>, ProblemHttpResult>> PublishAsync(RoomScope scope, SyncRequest? request, ClaimsPrincipal user,
        [FromServices] WorkspaceSync sync, [FromServices] AuditLog audit, [FromServices] WorkspaceSyncEvents events, CancellationToken cancellationToken)
    {
        var published = await sync.PublishAsync(scope.RoomId, user.GetLogin(), request?.Message, cancellationToken);
        if (published.Sync.Status == SyncStatus.Conflicts)
        {
            await RecordAsync(audit, events, user, published.Sync, AuditActions.Synced, cancellationToken);
            return Conflicts(published.Sync);
        }
        await RecordAsync(audit, events, user, published.Sync, AuditActions.Published, cancellationToken, published.Pushed, published.PushError);
        return TypedResults.Ok(new PublishResponse(SyncResponse.From(published.Sync), published.Pushed, published.PushError));
    }

    internal static async Task<Results<Ok<PushAccessResponse>, ProblemHttpResult>> AllowPushAsync(RoomScope scope, [FromRoute(Name = "user_id")] Guid userId, ClaimsPrincipal user,
        [FromServices] GitPushAccess access, CancellationToken cancellationToken) =>
        await access.GrantAsync(scope.RoomId, userId, user.GetUserId(), cancellationToken)
            ? TypedResults.Ok(new PushAccessResponse(scope.RoomId, userId, true))
            : ApiProblems.NotFound("Member", userId.ToString());

    internal static async Task<Ok<PushAccessResponse>> DisallowPushAsync(RoomScope scope, [FromRoute(Name = "user_id")] Guid userId,
        [FromServices] GitPushAccess access, CancellationToken cancellationToken)
    {
        await access.RevokeAsync(scope.RoomId, userId, cancellationToken);
        return TypedResults.Ok(new PushAccessResponse(scope.RoomId, userId, false));
    }

    private static ProblemHttpResult Conflicts(SyncOutcome outcome) =>
        ApiProblems.Create(StatusCodes.Status409Conflict, "Sync conflicts",
            $"{outcome.Conflicts.Count} file(s) changed on both sides; nothing was applied to {outcome.Branch}. Your work is committed on {outcome.MemberBranch}: resolve the files in your worktree and sync again.",
            ConflictsCode, new Dictionary<string, object?>
            {
                ["branch"] = outcome.Branch,
                ["member_branch"] = outcome.MemberBranch,
                ["head_commit"] = outcome.HeadCommit,
                ["member_commit"] = outcome.MemberCommit,
                ["conflicts"] = outcome.Conflicts,
            });

    private static async Task RecordAsync(AuditLog audit, WorkspaceSyncEvents events, ClaimsPrincipal user, SyncOutcome outcome, string action,
        CancellationToken cancellationToken, bool? pushed = null, string? pushError = null)
    {
        var conflicted = outcome.Status == SyncStatus.Conflicts;
        var auditAction = conflicted ? AuditActions.SyncConflicts : action;
        var detail = conflicted
            ? $"{outcome.Conflicts.Count} conflict(s): {string.Join(", ", outcome.Conflicts.Take(20).Select(c => c.Path))}"
            : $"{outcome.Status}: {outcome.BaseCommit[..12]} -> {outcome.HeadCommit[..12]}" + (pushed is null ? "" : pushed.Value ? ", pushed" : $", not pushed: {pushError}");
        // The trail is the record; the event is best effort. Neither may undo a sync that already landed.
        await audit.AppendAsync(outcome.RoomId, user.GetUserId(), auditAction, "server", null, null, "", detail, CancellationToken.None);
        await events.PublishAsync(outcome.RoomId, user.GetUserId(), outcome.Login, auditAction, outcome.Status, outcome.HeadCommit, outcome.Conflicts.Count, null,
            cancellationToken);
    }
}
