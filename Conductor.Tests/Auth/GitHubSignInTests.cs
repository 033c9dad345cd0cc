using System.Net;
using System.Text.Json;
using Conductor.Tests.Infrastructure;
using Npgsql;

namespace Conductor.Tests.Auth;

/// <summary>GitHub sign-in against a fake GitHub that speaks GitHub's formats over real HTTP on 127.0.0.1.</summary>
[Collection(ApiClusterCollection.Name)]
public sealed class GitHubSignInTests(ApiCluster cluster)
{
    [Fact]
    public async Task The_device_flow_waits_slows_down_and_then_signs_the_user_in_on_another_instance()
    {
        using var a = cluster.ClientA();
        using var b = cluster.ClientB();
        var started = await ApiClient.ExpectAsync(await a.PostAsync("/auth/github/device", null), HttpStatusCode.OK);
        var deviceCode = started.GetProperty("device_code").GetString()!;
        Assert.Matches(@"^\d{4}-\d{4}$", started.GetProperty("user_code").GetString());
        Assert.Equal(new Uri(cluster.GitHub.BaseUrl, "/login/device").AbsoluteUri, started.GetProperty("verification_uri").GetString());
        Assert.Equal(5, started.GetProperty("interval").GetInt32());
        Assert.Equal(900, started.GetProperty("expires_in").GetInt32());
        var request = cluster.GitHub.Requests.Last(r => r.PathAndQuery == "/login/device/code");
        Assert.Equal(FakeGitHub.ClientId, request.Form["client_id"]);
        Assert.Equal("repo read:user", request.Form["scope"]);
        Assert.Contains("application/json", request.Accept, StringComparison.Ordinal);

        var pending = await ApiClient.ExpectAsync(await b.PostAsync("/auth/github/poll", new { device_code = deviceCode }), HttpStatusCode.Accepted);
        Assert.Equal("authorization_pending", pending.GetProperty("status").GetString());
        Assert.Equal(5, pending.GetProperty("interval").GetInt32());

        cluster.GitHub.SetDevice(deviceCode, FakeGitHub.DeviceStatus.SlowDown);
        var slow = await ApiClient.ExpectAsync(await a.PostAsync("/auth/github/poll", new { device_code = deviceCode }), HttpStatusCode.Accepted);
        Assert.Equal("slow_down", slow.GetProperty("status").GetString());
        Assert.Equal(10, slow.GetProperty("interval").GetInt32());

        var gitHubId = Random.Shared.NextInt64(1, long.MaxValue);
        var login = ApiCluster.UniqueLogin("octo");
        cluster.GitHub.SetDevice(deviceCode, FakeGitHub.DeviceStatus.Approved, gitHubId, login);
        var signedIn = SignedIn.From(await ApiClient.ExpectAsync(await b.PostAsync("/auth/github/poll", new { device_code = deviceCode }), HttpStatusCode.OK));
        Assert.Equal(login, signedIn.Login);
        var poll = cluster.GitHub.Requests.Last(r => r.PathAndQuery == "/login/oauth/access_token");
        Assert.Equal("urn:ietf:params:oauth:grant-type:device_code", poll.Form["grant_type"]);
        Assert.Equal(deviceCode, poll.Form["device_code"]);

        using var me = cluster.ClientA(signedIn.AccessToken);
        var profile = await ApiClient.ExpectAsync(await me.GetAsync("/auth/me"), HttpStatusCode.OK);
        Assert.Equal(gitHubId, profile.GetProperty("github_id").GetInt64());
        Assert.True(profile.GetProperty("has_github_token").GetBoolean());

        // The GitHub token is kept, encrypted: not in the table in plaintext, not in either instance's log.
        var gitHubToken = cluster.GitHub.IssuedToken(deviceCode)!;
        await AssertStoredEncryptedAsync(signedIn.UserId, gitHubToken);
        Assert.DoesNotContain(gitHubToken, cluster.Output, StringComparison.Ordinal);

        // Signing in again (a later device flow) is the same user.
        var again = await ApiClient.ExpectAsync(await a.PostAsync("/auth/github/device", null), HttpStatusCode.OK);
        var secondCode = again.GetProperty("device_code").GetString()!;
        cluster.GitHub.SetDevice(secondCode, FakeGitHub.DeviceStatus.Approved, gitHubId, login);
        Assert.Equal(signedIn.UserId, SignedIn.From(await ApiClient.ExpectAsync(await a.PostAsync("/auth/github/poll", new { device_code = secondCode }), HttpStatusCode.OK)).UserId);
    }

    [Fact]
    public async Task Expired_denied_and_unknown_device_codes_are_clear_problems()
    {
        using var a = cluster.ClientA();
        var expired = (await ApiClient.ExpectAsync(await a.PostAsync("/auth/github/device", null), HttpStatusCode.OK)).GetProperty("device_code").GetString()!;
        var denied = (await ApiClient.ExpectAsync(await a.PostAsync("/auth/github/device", null), HttpStatusCode.OK)).GetProperty("device_code").GetString()!;
        cluster.GitHub.SetDevice(expired, FakeGitHub.DeviceStatus.Expired);
        cluster.GitHub.SetDevice(denied, FakeGitHub.DeviceStatus.Denied);

        var expiredProblem = await ApiClient.ExpectProblemAsync(await a.PostAsync("/auth/github/poll", new { device_code = expired }),
            HttpStatusCode.BadRequest, "The device code has expired");
        Assert.Equal("expired_token", expiredProblem.GetProperty("error").GetString());
        var deniedProblem = await ApiClient.ExpectProblemAsync(await a.PostAsync("/auth/github/poll", new { device_code = denied }),
            HttpStatusCode.Forbidden, "Sign-in was cancelled on GitHub");
        Assert.Equal("access_denied", deniedProblem.GetProperty("error").GetString());
        await ApiClient.ExpectProblemAsync(await a.PostAsync("/auth/github/poll", new { device_code = "nope" }), HttpStatusCode.BadRequest, "Unknown device code");
        await ApiClient.ExpectProblemAsync(await a.PostAsync("/auth/github/poll", new { }), HttpStatusCode.BadRequest, "Invalid device code");
    }

    [Fact]
    public async Task A_personal_access_token_is_verified_with_get_user_and_a_wrong_one_is_a_401()
    {
        using var a = cluster.ClientA();
        var gitHubId = Random.Shared.NextInt64(1, long.MaxValue);
        var login = ApiCluster.UniqueLogin("patuser");
        var pat = "ghp_" + Guid.NewGuid().ToString("N");
        cluster.GitHub.AddToken(pat, gitHubId, login);

        var signedIn = SignedIn.From(await ApiClient.ExpectAsync(await a.PostAsync("/auth/github/token", new { token = pat }), HttpStatusCode.OK));
        Assert.Equal(login, signedIn.Login);
        var user = cluster.GitHub.Requests.Last(r => r.PathAndQuery == "/api/v3/user" && r.Authorization == $"Bearer {pat}");
        Assert.Contains("application/vnd.github+json", user.Accept, StringComparison.Ordinal);
        Assert.Contains("Conductor", user.UserAgent, StringComparison.Ordinal);
        Assert.DoesNotContain(cluster.GitHub.Requests, r => r.PathAndQuery.Contains(pat, StringComparison.Ordinal));
        await AssertStoredEncryptedAsync(signedIn.UserId, pat);

        // A dev-login user of the same name becomes that GitHub user (the local account is claimed, not duplicated).
        var devLogin = ApiCluster.UniqueLogin("claimed");
        var devUser = await a.DevLoginAsync(devLogin);
        var claimPat = "ghp_" + Guid.NewGuid().ToString("N");
        cluster.GitHub.AddToken(claimPat, Random.Shared.NextInt64(1, long.MaxValue), devLogin);
        Assert.Equal(devUser.UserId, SignedIn.From(await ApiClient.ExpectAsync(await a.PostAsync("/auth/github/token", new { token = claimPat }), HttpStatusCode.OK)).UserId);

        await ApiClient.ExpectProblemAsync(await a.PostAsync("/auth/github/token", new { token = "ghp_wrong" }), HttpStatusCode.Unauthorized,
            "GitHub did not accept the token");
        await ApiClient.ExpectProblemAsync(await a.PostAsync("/auth/github/token", new { token = "has space" }), HttpStatusCode.BadRequest, "Invalid token");
        Assert.DoesNotContain(pat, cluster.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_unreachable_github_is_a_502_and_an_unconfigured_device_flow_a_404()
    {
        var environment = cluster.Environment();
        environment["Auth__GitHub__ClientId"] = null;
        // Nothing listens on port 9 (discard) of 127.0.0.1.
        environment["Auth__GitHub__ApiUrl"] = "http://127.0.0.1:9/api/v3";
        await using var instance = ServiceInstance.Start("Conductor.Api", environment);
        using var client = new ApiClient(await instance.WaitUntilListeningAsync(ApiCluster.StartTimeout));

        await ApiClient.ExpectProblemAsync(await client.PostAsync("/auth/github/device", null), HttpStatusCode.NotFound, "GitHub device flow is not configured");
        await ApiClient.ExpectProblemAsync(await client.PostAsync("/auth/github/poll", new { device_code = "x" }), HttpStatusCode.NotFound, "GitHub device flow is not configured");
        var problem = await ApiClient.ExpectProblemAsync(await client.PostAsync("/auth/github/token", new { token = "ghp_whatever" }), HttpStatusCode.BadGateway, "GitHub is unavailable");
        Assert.DoesNotContain("ghp_whatever", problem.GetRawText(), StringComparison.Ordinal);
        Assert.DoesNotContain("ghp_whatever", instance.Output, StringComparison.Ordinal);
    }

    private async Task AssertStoredEncryptedAsync(Guid userId, string token)
    {
        await using var dataSource = NpgsqlDataSource.Create(cluster.ConnectionString);
        await using var command = dataSource.CreateCommand("SELECT protected_token FROM github_tokens WHERE user_id = $1");
        command.Parameters.AddWithValue(userId);
        var stored = Assert.IsType<string>(await command.ExecuteScalarAsync());
        Assert.DoesNotContain(token, stored, StringComparison.Ordinal);
        Assert.DoesNotContain(token[4..], stored, StringComparison.Ordinal);
    }
}
