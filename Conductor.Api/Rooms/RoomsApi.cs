using Conductor.Api.Auth;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Conductor.Api.Rooms;

public static partial class RoomsApi
{
    public const int MaxNameLength = 100;

    public static RouteGroupBuilder MapRoomsApi(this IEndpointRouteBuilder endpoints)
    {
        var group = endpoints.MapGroup("/rooms").WithTags("Rooms");
        group.MapPost("/", CreateRoomAsync).WithName("CreateRoom");
        group.MapGet("/", ListRoomsAsync).WithName("ListRooms");
        group.MapPost("/join", JoinRoomAsync).WithName("JoinRoom");
        group.MapGet("/{room_id}", GetRoomAsync).WithName("GetRoom").RequireRoomAccess();
        group.MapPost("/{room_id}/invites", CreateInviteAsync).WithName("CreateInvite").RequireRoomAccess(RoomRole.Host, write: true);
        group.MapPost("/{room_id}/transfer-host", TransferHostAsync).WithName("TransferHost").RequireRoomAccess(RoomRole.Host, write: true);
        // Any member: the host removes others, a guest removes themself (leaves); the store tells the two apart.
        group.MapDelete("/{room_id}/members/{user_id}", RemoveMemberAsync).WithName("RemoveMember").RequireRoomAccess(write: true);
        group.MapPost("/{room_id}/end", EndRoomAsync).WithName("EndRoom").RequireRoomAccess(RoomRole.Host, write: true);
        return group;
    }

    internal static async Task<Results<Created<CreatedRoomResponse>, ProblemHttpResult>> CreateRoomAsync(
        CreateRoomRequest? request, HttpContext context, RoomStore rooms, CancellationToken cancellationToken)
    {
        var name = request?.Name?.Trim();
        if (string.IsNullOrEmpty(name) || name.Length > MaxNameLength || name.Any(char.IsControl))
        {
            return Problem(StatusCodes.Status400BadRequest, "Invalid room name",
                $"name is required: 1-{MaxNameLength} characters, no control characters.");
        }
        var room = await rooms.CreateAsync(context.User.GetUserId(), name, cancellationToken);
        return TypedResults.Created($"/rooms/{room.Id:D}", new CreatedRoomResponse(room.Id, room.Name, "host", room.CreatedAt));
    }

    internal static async Task<Ok<RoomListResponse>> ListRoomsAsync(HttpContext context, RoomStore rooms, CancellationToken cancellationToken)
    {
        var mine = await rooms.ListForUserAsync(context.User.GetUserId(), cancellationToken);
        return TypedResults.Ok(new RoomListResponse(mine.Select(r => new RoomSummaryResponse(
            r.Room.Id, r.Room.Name, RoomStore.RoleName(r.Role), r.Room.HostUserId, r.Room.CreatedAt, r.Room.EndedAt)).ToList()));
    }

    internal static async Task<Results<Ok<RoomDetailResponse>, ProblemHttpResult>> GetRoomAsync(
        RoomScope scope, HttpContext context, RoomStore rooms, IPresence presence, ILoggerFactory loggers,
        CancellationToken cancellationToken)
    {
        var roomId = scope.RoomId;
        var room = await rooms.GetAsync(roomId, cancellationToken);
        var members = await rooms.GetMembersAsync(roomId, cancellationToken);
        var me = members.FirstOrDefault(m => m.UserId == context.User.GetUserId());
        if (room is null || me is null)
        {
            // Removed between the check and the read.
            return NotAMember();
        }
        IReadOnlySet<Guid>? online = null;
        try
        {
            online = await presence.GetOnlineAsync(roomId, cancellationToken);
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            LogPresenceUnavailable(loggers.CreateLogger(typeof(RoomsApi)), ex, roomId);
        }
        return TypedResults.Ok(new RoomDetailResponse(room.Id, room.Name, RoomStore.RoleName(me.Role), room.HostUserId, room.CreatedAt, room.EndedAt,
            members.Select(m => new RoomMemberResponse(m.UserId, m.Login, RoomStore.RoleName(m.Role), m.JoinedAt, online?.Contains(m.UserId))).ToList()));
    }

    internal static async Task<Results<Created<InviteResponse>, ProblemHttpResult>> CreateInviteAsync(
        RoomScope scope, CreateInviteRequest? request, HttpContext context, RoomStore rooms,
        InviteTokenCodec codec, IOptions<InviteOptions> inviteOptions, IOptions<WebOptions> webOptions, TimeProvider timeProvider,
        CancellationToken cancellationToken)
    {
        var limits = inviteOptions.Value;
        var lifetime = limits.Lifetime;
        if (request?.ExpiresInSeconds is { } seconds)
        {
            if (seconds < 1 || seconds > limits.MaxLifetime.TotalSeconds)
            {
                return Problem(StatusCodes.Status400BadRequest, "Invalid invite lifetime",
                    $"expires_in_seconds must be between 1 and {(long)limits.MaxLifetime.TotalSeconds}.");
            }
            lifetime = TimeSpan.FromSeconds(seconds);
        }
        var roomId = scope.RoomId;
        var singleUse = request?.SingleUse ?? false;
        // Whole milliseconds: the token carries Unix milliseconds and must agree with the row.
        var expiresAt = DateTimeOffset.FromUnixTimeMilliseconds((timeProvider.GetUtcNow() + lifetime).ToUnixTimeMilliseconds());
        var (inviteId, error) = await rooms.CreateInviteAsync(roomId, context.User.GetUserId(), expiresAt, singleUse, cancellationToken);
        if (error != RoomChangeError.None)
        {
            return ForError(error);
        }
        var token = codec.Create(new InviteClaims(inviteId, roomId, expiresAt));
        return TypedResults.Created((string?)null, new InviteResponse(token, webOptions.Value.JoinUrl(token), expiresAt, singleUse));
    }

    internal static async Task<Results<Ok<JoinRoomResponse>, ProblemHttpResult>> JoinRoomAsync(
        JoinRoomRequest? request, HttpContext context, RoomStore rooms, InviteTokenCodec codec, RoomEventPublisher events,
        TimeProvider timeProvider, CancellationToken cancellationToken)
    {
        if (string.IsNullOrEmpty(request?.Token))
        {
            return Problem(StatusCodes.Status400BadRequest, "Missing invite token", "token is required.");
        }
        if (codec.Read(request.Token) is not { } invite)
        {
            return Problem(StatusCodes.Status400BadRequest, "Invalid invite", "The invite token is malformed or has been altered.");
        }
        if (invite.ExpiresAt <= timeProvider.GetUtcNow())
        {
            return InviteExpired();
        }
        var userId = context.User.GetUserId();
        var (role, joined, error) = await rooms.JoinAsync(invite.RoomId, invite.InviteId, userId, cancellationToken);
        if (error != RoomChangeError.None)
        {
            return ForError(error);
        }
        if (joined)
        {
            await events.PublishAsync(new RoomEvent(RoomEvent.MemberJoined, invite.RoomId, userId, context.User.GetLogin(), "guest", null,
                timeProvider.GetUtcNow()), cancellationToken);
        }
        return TypedResults.Ok(new JoinRoomResponse(invite.RoomId, RoomStore.RoleName(role!.Value)));
    }

    internal static async Task<Results<Ok<TransferHostResponse>, ProblemHttpResult>> TransferHostAsync(
        RoomScope scope, TransferHostRequest? request, HttpContext context, RoomStore rooms, RoomEventPublisher events,
        TimeProvider timeProvider, CancellationToken cancellationToken)
    {
        if (request?.UserId is not { } newHost)
        {
            return Problem(StatusCodes.Status400BadRequest, "Missing user_id", "user_id of the member who becomes host is required.");
        }
        var roomId = scope.RoomId;
        var callerId = context.User.GetUserId();
        var error = await rooms.TransferHostAsync(roomId, callerId, newHost, cancellationToken);
        if (error != RoomChangeError.None)
        {
            return ForError(error);
        }
        await events.PublishAsync(new RoomEvent(RoomEvent.HostTransferred, roomId, newHost, null, "host", callerId, timeProvider.GetUtcNow()), cancellationToken);
        return TypedResults.Ok(new TransferHostResponse(roomId, newHost));
    }

    /// <summary>The host removes a member; a guest removing themself leaves the room.</summary>
    internal static async Task<Results<NoContent, ProblemHttpResult>> RemoveMemberAsync(
        RoomScope scope, string user_id, HttpContext context, RoomStore rooms, RoomEventPublisher events, IPresence presence,
        TimeProvider timeProvider, ILoggerFactory loggers, CancellationToken cancellationToken)
    {
        if (!Guid.TryParse(user_id, out var memberId))
        {
            return ApiProblems.MalformedId("user_id", user_id);
        }
        var roomId = scope.RoomId;
        var callerId = context.User.GetUserId();
        var error = await rooms.RemoveMemberAsync(roomId, callerId, memberId, cancellationToken);
        if (error != RoomChangeError.None)
        {
            return ForError(error);
        }
        var leaving = memberId == callerId;
        await events.PublishAsync(new RoomEvent(leaving ? RoomEvent.MemberLeft : RoomEvent.MemberRemoved, roomId, memberId, null, null,
            leaving ? null : callerId, timeProvider.GetUtcNow()), cancellationToken);
        try
        {
            await presence.ForgetUserAsync(roomId, memberId, cancellationToken);
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            LogPresenceUnavailable(loggers.CreateLogger(typeof(RoomsApi)), ex, roomId);
        }
        return TypedResults.NoContent();
    }

    internal static async Task<Results<Ok<EndRoomResponse>, ProblemHttpResult>> EndRoomAsync(
        RoomScope scope, HttpContext context, RoomStore rooms, RoomEventPublisher events, CancellationToken cancellationToken)
    {
        var roomId = scope.RoomId;
        var callerId = context.User.GetUserId();
        var (endedAt, error) = await rooms.EndAsync(roomId, callerId, cancellationToken);
        if (error != RoomChangeError.None)
        {
            return ForError(error);
        }
        await events.PublishAsync(new RoomEvent(RoomEvent.RoomEnded, roomId, null, null, null, callerId, endedAt!.Value), cancellationToken);
        return TypedResults.Ok(new EndRoomResponse(roomId, endedAt.Value));
    }

    private static ProblemHttpResult ForError(RoomChangeError error) => error switch
    {
        RoomChangeError.NoSuchRoom => NotAMember(),
        RoomChangeError.NotHost => ApiProblems.HostOnly(),
        RoomChangeError.Ended => ApiProblems.RoomEnded(),
        RoomChangeError.NotAMember => Problem(StatusCodes.Status404NotFound, "No such member", "That user is not a member of this room."),
        RoomChangeError.TargetIsSelf => Problem(StatusCodes.Status400BadRequest, "Already host", "Transfer the host role to another member."),
        RoomChangeError.HostCannotLeave => Problem(StatusCodes.Status409Conflict, "The host cannot leave",
            "Transfer the host role to another member first, or end the session."),
        RoomChangeError.InviteUnknown => Problem(StatusCodes.Status400BadRequest, "Invalid invite", "This invite does not exist."),
        RoomChangeError.InviteExpired => InviteExpired(),
        RoomChangeError.InviteUsed => Problem(StatusCodes.Status410Gone, "Invite already used", "This single-use invite has been used. Ask the host for a new one."),
        RoomChangeError.RemovedFromRoom => Problem(StatusCodes.Status403Forbidden, "Removed from this room",
            "The host removed you after this invite was issued. Ask the host for a new invite."),
        _ => throw new ArgumentOutOfRangeException(nameof(error), error, null),
    };

    private static ProblemHttpResult NotAMember() => ApiProblems.NotAMember();

    private static ProblemHttpResult InviteExpired() =>
        Problem(StatusCodes.Status410Gone, "Invite expired", "This invite has expired. Ask the host for a new one.");

    private static ProblemHttpResult Problem(int status, string title, string detail) => ApiProblems.Create(status, title, detail);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Presence of room {RoomId} is unavailable (Redis)")]
    private static partial void LogPresenceUnavailable(ILogger logger, Exception exception, Guid roomId);
}
