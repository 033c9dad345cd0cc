namespace Conductor.Api.Auth;

/// <summary>Where socket tickets are accepted and under which names.</summary>
public static class SocketTicketDefaults
{
    public const string AuthenticationScheme = "SocketTicket";

    /// <summary>Our raw sockets (<c>/ws/...</c>) take the ticket as <c>?ticket=</c>.</summary>
    public const string QueryName = "ticket";

    /// <summary>SignalR's JavaScript client always puts what its <c>accessTokenFactory</c> returns in <c>?access_token=</c>.</summary>
    public const string SignalRQueryName = "access_token";

    /// <summary>The WebSocket endpoints: the only URLs where a credential may appear (as a ticket, never a token).</summary>
    public static bool IsSocketPath(PathString path) => path.StartsWithSegments("/ws") || path.StartsWithSegments("/hubs");

    /// <summary>The ticket in the request's query when it is a socket request, else null.</summary>
    public static string? FindTicket(HttpRequest request)
    {
        if (!IsSocketPath(request.Path))
        {
            return null;
        }
        foreach (var name in (ReadOnlySpan<string>)[QueryName, SignalRQueryName])
        {
            if (request.Query.TryGetValue(name, out var value) && !string.IsNullOrEmpty(value))
            {
                return value.ToString();
            }
        }
        return null;
    }
}
