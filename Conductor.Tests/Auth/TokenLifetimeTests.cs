using System.Net;
using Conductor.Tests.Infrastructure;

namespace Conductor.Tests.Auth;

/// <summary>An instance configured with a 2-second access token and a 4-request auth rate limit.</summary>
[Collection(ApiClusterCollection.Name)]
public sealed class TokenLifetimeTests(ApiCluster cluster)
{
    [Fact]
    public async Task Access_tokens_expire_refresh_renews_them_and_the_auth_rate_limit_answers_429()
    {
        var environment = cluster.Environment();
        environment["Auth__AccessTokenLifetime"] = "00:00:02";
        environment["Auth__RateLimit__PermitLimit"] = "4";
        environment["Auth__RateLimit__Window"] = "00:10:00";
        await using var instance = ServiceInstance.Start("Conductor.Api", environment);
        var url = await instance.WaitUntilListeningAsync(ApiCluster.StartTimeout);
        using var anonymous = new ApiClient(url);

        var signedIn = await anonymous.DevLoginAsync(ApiCluster.UniqueLogin("brief"));   // 1 of 4 for this IP
        Assert.Equal(2, signedIn.ExpiresIn);
        using (var client = new ApiClient(url, signedIn.AccessToken))
        {
            // /rooms is not rate limited; /auth/me would count against the user's own budget.
            await ApiClient.ExpectAsync(await client.GetAsync("/rooms"), HttpStatusCode.OK);
            await Task.Delay(TimeSpan.FromSeconds(2.5));
            await ApiClient.ExpectProblemAsync(await client.GetAsync("/rooms"), HttpStatusCode.Unauthorized);
        }
        // The other instance (default lifetime) honours the expiry written into the token too.
        using (var other = cluster.ClientB(signedIn.AccessToken))
        {
            await ApiClient.ExpectProblemAsync(await other.GetAsync("/rooms"), HttpStatusCode.Unauthorized);
        }

        var renewed = SignedIn.From(await ApiClient.ExpectAsync(await anonymous.PostAsync("/auth/refresh", new { refresh_token = signedIn.RefreshToken }), HttpStatusCode.OK)); // 2
        using (var client = new ApiClient(url, renewed.AccessToken))
        {
            await ApiClient.ExpectAsync(await client.GetAsync("/rooms"), HttpStatusCode.OK);
        }

        await ApiClient.ExpectProblemAsync(await anonymous.PostAsync("/auth/dev", new { login = "-x" }), HttpStatusCode.BadRequest); // 3: refused requests count too
        await anonymous.DevLoginAsync(ApiCluster.UniqueLogin("brief")); // 4
        using var limited = await anonymous.PostAsync("/auth/dev", new { login = "anyone" });
        await ApiClient.ExpectProblemAsync(limited, HttpStatusCode.TooManyRequests, "Too many requests");
        Assert.True(limited.Headers.RetryAfter?.Delta > TimeSpan.Zero, "429 carries Retry-After");
        // Only /auth is limited: everything else still answers.
        using var client2 = new ApiClient(url, renewed.AccessToken);
        await ApiClient.ExpectAsync(await client2.GetAsync("/rooms"), HttpStatusCode.OK);
    }
}
