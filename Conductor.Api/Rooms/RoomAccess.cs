using System.Security.Claims;
using Conductor.Api.Auth;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Conductor.Api.Rooms;

/// <summary>
/// The one room access decision. Routes get it through <see cref="RoomAccessExtensions.RequireRoomAccess{TBuilder}"/>;
/// the chat socket, the hub and routes whose room id is in the body or is found from another resource call it here.
/// </summary>
public static class RoomAccess
{
    /// <summary>
    /// Null when the user may act on the room with at least <paramref name="minimum"/> (and, for a write, the room is
    /// live); otherwise why not. A room that does not exist is "not a member", so room ids cannot be probed.
    /// </summary>
    public static async Task<RoomAccessDenial?> DecideAsync(this IRoomMembership membership, Guid roomId, Guid userId,
        RoomRole minimum, bool write, CancellationToken cancellationToken)
    {
        var role = await membership.GetRoleAsync(roomId, userId, cancellationToken);
        if (role is null)
        {
            return RoomAccessDenial.NotAMember;
        }
        if (minimum == RoomRole.Host && role != RoomRole.Host)
        {
            return RoomAccessDenial.HostOnly;
        }
        if (write && await membership.IsEndedAsync(roomId, cancellationToken))
        {
            return RoomAccessDenial.Ended;
        }
        return null;
    }

    /// <summary>The decision as the 403 problem to return, or null when access is granted.</summary>
    public static async Task<ProblemHttpResult?> CheckAsync(this IRoomMembership membership, Guid roomId, ClaimsPrincipal user,
        CancellationToken cancellationToken, RoomRole minimum = RoomRole.Guest, bool write = false) =>
        await membership.DecideAsync(roomId, user.GetUserId(), minimum, write, cancellationToken) is { } denial
            ? ApiProblems.For(denial)
            : null;
}
