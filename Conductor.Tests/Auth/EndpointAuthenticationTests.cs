using System.Net;

namespace Conductor.Tests.Auth;

/// <summary>Every endpoint but sign-in, health and OpenAPI answers 401 to a request without a valid token.</summary>
[Collection(ApiClusterCollection.Name)]
public sealed class EndpointAuthenticationTests(ApiCluster cluster)
{
    /// <summary>The only anonymous operations: signing in and handling one's refresh token.</summary>
    private static readonly HashSet<string> Anonymous =
    [
        "POST /auth/dev", "POST /auth/github/device", "POST /auth/github/poll", "POST /auth/github/token",
        "POST /auth/refresh", "POST /auth/revoke",
    ];

    [Fact]
    public async Task Every_documented_operation_except_sign_in_answers_401_without_a_valid_token()
    {
        var routes = await OpenApiRoute.ReadAsync(cluster.UrlA);
        // Not vacuous: the features this branch knows are documented (so others' will be enumerated the same way).
        foreach (var known in new[] { "GET /auth/me", "POST /rooms", "GET /rooms/{room_id}", "DELETE /rooms/{room_id}/members/{user_id}", "GET /jobs/{id}" })
        {
            Assert.Contains(known, routes.Select(r => r.ToString()));
        }
        Assert.Subset(routes.Select(r => r.ToString()).ToHashSet(), Anonymous);

        using var client = cluster.ClientB();
        var signedIn = await client.DevLoginAsync(ApiCluster.UniqueLogin("probe"));
        var tampered = signedIn.AccessToken[..^4] + (signedIn.AccessToken.EndsWith("AAAA", StringComparison.Ordinal) ? "BBBB" : "AAAA");
        var failures = new List<string>();
        foreach (var route in routes)
        {
            foreach (var token in new[] { null, "not-a-token", tampered })
            {
                using var response = await client.SendAsync(route.Request(Guid.NewGuid(), token));
                var anonymous = Anonymous.Contains(route.ToString());
                if (anonymous == (response.StatusCode == HttpStatusCode.Unauthorized))
                {
                    failures.Add($"{route} with {(token is null ? "no token" : "a bad token")}: {(int)response.StatusCode}");
                }
            }
        }
        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }

    [Fact]
    public async Task Health_liveness_and_openapi_are_anonymous()
    {
        using var client = cluster.ClientA();
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/health")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/alive")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/openapi/v1.json")).StatusCode);
        // An unknown path is no way around it either.
        Assert.Equal(HttpStatusCode.Unauthorized, (await client.GetAsync("/no/such/path")).StatusCode);
    }
}
