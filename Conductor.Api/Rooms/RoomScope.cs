using System.Reflection;

namespace Conductor.Api.Rooms;

/// <summary>
/// The room a request is scoped to, as the handler receives it from a route with <c>RequireRoomAccess()</c>. Binding
/// runs before endpoint filters, so this only parses; the room access filter, which runs next, answers the 400 for a
/// malformed id and the 403s before the handler can see the scope.
/// </summary>
public sealed record RoomScope(Guid RoomId)
{
    public const string Parameter = "room_id";

    public static ValueTask<RoomScope?> BindAsync(HttpContext context, ParameterInfo parameter)
    {
        if (context.GetEndpoint()?.Metadata.GetMetadata<RoomAccessMetadata>() is null)
        {
            throw new InvalidOperationException($"{parameter.Member.Name} takes a RoomScope but its route has no RequireRoomAccess().");
        }
        // Guid.Empty never reaches a handler: the filter refuses an id that does not parse.
        return ValueTask.FromResult<RoomScope?>(new RoomScope(Guid.TryParse(RawId(context), out var id) ? id : Guid.Empty));
    }

    /// <summary>The route's <c>{room_id}</c>, or <c>?room_id=</c> for routes that name the room in the query.</summary>
    internal static string? RawId(HttpContext context) =>
        context.Request.RouteValues.TryGetValue(Parameter, out var value) ? value as string : context.Request.Query[Parameter].FirstOrDefault();
}
