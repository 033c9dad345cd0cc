using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Conductor.Tests.Auth;

/// <summary>
/// Every operation the Api documents, read from its own <c>/openapi/v1.json</c>, so that an endpoint added later is
/// covered by the authorisation tests without anyone remembering to list it.
/// </summary>
public sealed partial record OpenApiRoute(HttpMethod Method, string Template)
{
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
                    routes.Add(new OpenApiRoute(new HttpMethod(operation.Name.ToUpperInvariant()), path.Name));
                }
            }
        }
        return routes;
    }

    /// <summary>The path with <c>{id}</c> set to <paramref name="id"/> and every other parameter to a fresh UUID.</summary>
    public string Fill(Guid id) => Parameter().Replace(Template, m => m.Groups[1].Value == "id" ? id.ToString() : Guid.NewGuid().ToString());

    /// <summary>A request with an empty JSON object as the body of methods that take one.</summary>
    public HttpRequestMessage Request(Guid id, string? accessToken)
    {
        var request = new HttpRequestMessage(Method, Fill(id));
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

    [GeneratedRegex(@"\{([^}:]+)(:[^}]*)?\}")]
    private static partial Regex Parameter();
}
