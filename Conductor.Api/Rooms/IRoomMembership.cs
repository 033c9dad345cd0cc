using System.Security.Claims;
using Conductor.Api.Auth;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Conductor.Api.Rooms;

public enum RoomRole { Guest, Host }

/// <summary>Who may touch a room's resources: chat, files, workspace, changes and audit all ask this.</summary>
public interface IRoomMembership
{
    /// <summary>The user's role in the room, or null when they are not a member (or the room does not exist).</summary>
    Task<RoomRole?> GetRoleAsync(Guid roomId, Guid userId, CancellationToken cancellationToken);

    /// <summary>Whether the room has ended (read-only: no more writes of any kind).</summary>
    Task<bool> IsEndedAsync(Guid roomId, CancellationToken cancellationToken);
}

/// <summary>The one way endpoints check room access, so every feature answers the same: 403 problem details.</summary>
public static class RoomAccess
{
    /// <summary>
    /// Null when <paramref name="user"/> may act on the room with at least <paramref name="minimum"/>; otherwise the
    /// 403 to return. A room that does not exist also answers 403, so room ids cannot be probed.
    /// </summary>
    public static async Task<ProblemHttpResult?> CheckAsync(this IRoomMembership membership, Guid roomId, ClaimsPrincipal user,
        CancellationToken cancellationToken, RoomRole minimum = RoomRole.Guest, bool write = false)
    {
        var role = await membership.GetRoleAsync(roomId, user.GetUserId(), cancellationToken);
        if (role is null)
        {
            return TypedResults.Problem(statusCode: StatusCodes.Status403Forbidden, title: "Not a member of this room",
                detail: "Only members of the room can use its resources.");
        }
        if (minimum == RoomRole.Host && role != RoomRole.Host)
        {
            return TypedResults.Problem(statusCode: StatusCodes.Status403Forbidden, title: "Host only",
                detail: "Only the room's host can do this.");
        }
        if (write && await membership.IsEndedAsync(roomId, cancellationToken))
        {
            return TypedResults.Problem(statusCode: StatusCodes.Status403Forbidden, title: "The session has ended",
                detail: "The room is read-only since its host ended the session.");
        }
        return null;
    }
}
