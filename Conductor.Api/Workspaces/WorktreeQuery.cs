using System.Security.Claims;
using Conductor.Api.Auth;
using Conductor.Workspaces;
using Conductor.Workspaces.Personal;

namespace Conductor.Api.Workspaces;

/// <summary>The optional <c>worktree</c> query parameter: absent or <c>room</c> for the room's shared worktree, <c>me</c> for the caller's own.</summary>
public static class WorktreeQuery
{
    public const string Me = "me";
    public const string Room = "room";

    public static WorktreeTarget Parse(Guid roomId, string? worktree, ClaimsPrincipal user) => worktree switch
    {
        null or "" or Room => WorktreeTarget.Shared(roomId),
        Me => WorktreeTarget.Personal(roomId, user.GetLogin()),
        _ => throw new WorkspaceException(WorkspaceErrorKind.Invalid, "Invalid worktree", "worktree must be 'me' (your own worktree) or 'room' (the room's shared one, the default)."),
    };
}
