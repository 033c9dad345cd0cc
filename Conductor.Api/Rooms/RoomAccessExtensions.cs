using Conductor.Api.Auth;

namespace Conductor.Api.Rooms;

/// <summary>Room access declared once per route or group, in the style of <c>RequireAuthorization()</c>.</summary>
public static class RoomAccessExtensions
{
    /// <summary>
    /// The route acts on the room named by <c>{room_id}</c> (or <c>?room_id=</c>): a malformed id is one 400 problem,
    /// a non-member (or a missing room) one 403, a guest on a host-only route one 403, a write to an ended room one 403.
    /// The handler takes a <see cref="RoomScope"/> with the parsed id.
    /// </summary>
    public static TBuilder RequireRoomAccess<TBuilder>(this TBuilder builder, RoomRole minimum = RoomRole.Guest, bool write = false)
        where TBuilder : IEndpointConventionBuilder
    {
        builder.RequireAuthorization();
        builder.WithMetadata(new RoomAccessMetadata(minimum, write));
        builder.AddEndpointFilter(CheckAsync);
        return builder;
    }

    private static async ValueTask<object?> CheckAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var http = context.HttpContext;
        // The most specific declaration wins: a group's RequireRoomAccess() with a route's own RequireRoomAccess(write: true).
        var access = http.GetEndpoint()?.Metadata.GetMetadata<RoomAccessMetadata>()
            ?? throw new InvalidOperationException("The room access filter runs only on routes with RoomAccessMetadata.");
        var raw = RoomScope.RawId(http);
        if (!Guid.TryParse(raw, out var roomId))
        {
            return ApiProblems.MalformedId(RoomScope.Parameter, raw);
        }
        var membership = http.RequestServices.GetRequiredService<IRoomMembership>();
        if (await membership.DecideAsync(roomId, http.User.GetUserId(), access.Minimum, access.Write, http.RequestAborted) is { } denial)
        {
            return ApiProblems.For(denial);
        }
        return await next(context);
    }
}
