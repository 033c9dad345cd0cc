using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Conductor.Tests.Auth;

/// <summary>
/// Every operation the Api documents, read from its own <c>/openapi/v1.json</c>, so that an endpoint added later is
/// covered by the authorisation tests without anyone remembering to list it.
/// </summary>
/// <param name="RoomIdIn">Where the operation takes <c>room_id</c>: "path", "query", or null when it takes none.</param>
/// <param name="Access">The operation's <c>x-room-access</c>: the role it needs and whether it writes; null when undeclared.</param>
public sealed partial record OpenApiRoute(HttpMethod Method, string Template, string? RoomIdIn = null, RoomAccess? Access = null)
{
    public const string RoomId = "room_id";

    public static async Task<IReadOnlyList<OpenApiRoute>> ReadAsync(Uri api)
    {
        using var http = new HttpClient { BaseAddress = api };
        var document = await http.GetFromJsonAsync<JsonElement>("/openapi/v1.json");
        var routes = new List<OpenApiRoute>();
        foreach (var path in document.GetProperty("paths").EnumerateObject())
        {
            foreach (var operation in path.Value.EnumerateObject())
            {
                if (operation.Name is "get" or "post" or "put" or "patch" or "delete")
                {
                    routes.Add(new OpenApiRoute(new HttpMethod(operation.Name.ToUpperInvariant()), path.Name,
                        RoomIdLocation(path.Name, operation.Value), RoomAccess.Read(operation.Value)));
                }
            }
        }
        return routes;
    }

    /// <summary>The path with <c>{room_id}</c> (or <c>?room_id=</c>) set to <paramref name="roomId"/> and every other parameter to a fresh UUID.</summary>
    public string Fill(string roomId)
    {
        var path = Parameter().Replace(Template, m => m.Groups[1].Value == RoomId ? Uri.EscapeDataString(roomId) : Guid.NewGuid().ToString());
        return RoomIdIn == "query" ? $"{path}?{RoomId}={Uri.EscapeDataString(roomId)}" : path;
    }

    /// <summary>A request with an empty JSON object as the body of methods that take one.</summary>
    public HttpRequestMessage Request(Guid roomId, string? accessToken) => Request(roomId.ToString(), accessToken);

    public HttpRequestMessage Request(string roomId, string? accessToken)
    {
        var request = new HttpRequestMessage(Method, Fill(roomId));
        if (Method != HttpMethod.Get && Method != HttpMethod.Delete)
        {
            request.Content = JsonContent.Create(new { });
        }
        if (accessToken is not null)
        {
            request.Headers.Authorization = new("Bearer", accessToken);
        }
        return request;
    }

    public override string ToString() => $"{Method} {Template}";

    private static string? RoomIdLocation(string template, JsonElement operation)
    {
        if (template.Contains("{" + RoomId + "}", StringComparison.Ordinal))
        {
            return "path";
        }
        if (operation.TryGetProperty("parameters", out var parameters))
        {
            foreach (var parameter in parameters.EnumerateArray())
            {
                if (parameter.TryGetProperty("name", out var name) && name.GetString() == RoomId)
                {
                    return parameter.GetProperty("in").GetString();
                }
            }
        }
        // A room route that names its room some other way ({id}, {roomId}) is counted too, so it cannot escape the sweep.
        return RoomLike().IsMatch(template) ? "path" : null;
    }

    [GeneratedRegex(@"\{([^}:]+)(:[^}]*)?\}")]
    private static partial Regex Parameter();

    [GeneratedRegex(@"^/rooms/\{|\{room(_?id)?\}", RegexOptions.IgnoreCase)]
    private static partial Regex RoomLike();
}

/// <summary>An operation's declared room access, from the <c>x-room-access</c> extension of the OpenAPI document.</summary>
public sealed record RoomAccess(bool HostOnly, bool Write)
{
    public static RoomAccess? Read(JsonElement operation) =>
        operation.TryGetProperty("x-room-access", out var access)
            ? new RoomAccess(access.GetProperty("role").GetString() == "host", access.GetProperty("write").GetBoolean())
            : null;
}
