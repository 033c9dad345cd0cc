using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Conductor.Tests.Infrastructure;
using Npgsql;

namespace Conductor.Tests.Auth;

/// <summary>Sign-in, tokens across instances, refresh rotation and reuse detection, against two real Api processes.</summary>
[Collection(ApiClusterCollection.Name)]
public sealed class AuthTests(ApiCluster cluster)
{
    [Fact]
    public async Task Dev_login_issues_tokens_that_the_other_instance_accepts()
    {
        var login = ApiCluster.UniqueLogin("alice");
        using var a = cluster.ClientA();
        var alice = await a.DevLoginAsync(login);
        Assert.Equal(login, alice.Login);
        Assert.Equal(15 * 60, alice.ExpiresIn);

        // Signed in on A, recognised on B: one key ring, in Postgres.
        using var b = cluster.ClientB(alice.AccessToken);
        var me = await ApiClient.ExpectAsync(await b.GetAsync("/auth/me"), HttpStatusCode.OK);
        Assert.Equal(alice.UserId, me.GetProperty("id").GetGuid());
        Assert.Equal(login, me.GetProperty("login").GetString());
        Assert.Equal(JsonValueKind.Null, me.GetProperty("github_id").ValueKind);
        Assert.False(me.GetProperty("has_github_token").GetBoolean());

        // The same login (in any case) is the same user.
        var again = await cluster.ClientB().DevLoginAsync(login.ToUpperInvariant());
        Assert.Equal(alice.UserId, again.UserId);
        Assert.Equal(login, again.Login);

        await using var dataSource = NpgsqlDataSource.Create(cluster.ConnectionString);
        await using var keys = dataSource.CreateCommand("SELECT count(*) FROM data_protection_keys");
        Assert.Equal(1L, await keys.ExecuteScalarAsync());
    }

    [Theory]
    [InlineData("{\"login\":\"\"}")]
    [InlineData("{\"login\":\"-leading-hyphen\"}")]
    [InlineData("{\"login\":\"has space\"}")]
    [InlineData("{\"login\":\"a-very-long-login-name-that-github-would-never-allow\"}")]
    [InlineData("{}")]
    public async Task Dev_login_refuses_a_bad_login_with_a_problem(string body)
    {
        using var a = cluster.ClientA();
        using var content = new StringContent(body, new MediaTypeHeaderValue("application/json"));
        using var response = await a.SendAsync(new HttpRequestMessage(HttpMethod.Post, "/auth/dev") { Content = content });
        await ApiClient.ExpectProblemAsync(response, HttpStatusCode.BadRequest, "Invalid login");
    }

    [Fact]
    public async Task Malformed_json_is_a_400_problem()
    {
        using var a = cluster.ClientA();
        using var content = new StringContent("{\"login\":", new MediaTypeHeaderValue("application/json"));
        using var response = await a.SendAsync(new HttpRequestMessage(HttpMethod.Post, "/auth/dev") { Content = content });
        await ApiClient.ExpectProblemAsync(response, HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task Refresh_rotates_and_a_reused_refresh_token_revokes_the_whole_family()
    {
        using var a = cluster.ClientA();
        using var b = cluster.ClientB();
        var first = await a.DevLoginAsync(ApiCluster.UniqueLogin("bob"));

        // Rotation, across instances: each use returns a new refresh token and a working access token.
        var second = SignedIn.From(await ApiClient.ExpectAsync(await b.PostAsync("/auth/refresh", new { refresh_token = first.RefreshToken }), HttpStatusCode.OK));
        Assert.NotEqual(first.RefreshToken, second.RefreshToken);
        Assert.Equal(first.UserId, second.UserId);
        using (var withSecond = cluster.ClientA(second.AccessToken))
        {
            await ApiClient.ExpectAsync(await withSecond.GetAsync("/auth/me"), HttpStatusCode.OK);
        }
        var third = SignedIn.From(await ApiClient.ExpectAsync(await a.PostAsync("/auth/refresh", new { refresh_token = second.RefreshToken }), HttpStatusCode.OK));

        // The first token again: reuse. It fails, and so does the newest token of the family, which was not used yet.
        var reuse = await ApiClient.ExpectProblemAsync(await a.PostAsync("/auth/refresh", new { refresh_token = first.RefreshToken }),
            HttpStatusCode.Unauthorized, "Refresh token reuse detected");
        Assert.Equal("reused", reuse.GetProperty("error").GetString());
        await ApiClient.ExpectProblemAsync(await b.PostAsync("/auth/refresh", new { refresh_token = third.RefreshToken }),
            HttpStatusCode.Unauthorized, "Refresh token revoked");

        // Another sign-in of the same user is another family, untouched.
        var other = await a.DevLoginAsync(first.Login);
        await ApiClient.ExpectAsync(await a.PostAsync("/auth/refresh", new { refresh_token = other.RefreshToken }), HttpStatusCode.OK);

        await using var dataSource = NpgsqlDataSource.Create(cluster.ConnectionString);
        await using var count = dataSource.CreateCommand(
            "SELECT count(*) FILTER (WHERE revoked_at IS NOT NULL), count(*) FILTER (WHERE revoked_at IS NULL) FROM refresh_tokens WHERE user_id = $1");
        count.Parameters.AddWithValue(first.UserId);
        await using var reader = await count.ExecuteReaderAsync();
        await reader.ReadAsync();
        Assert.Equal(3L, reader.GetInt64(0)); // first, second, third
        Assert.Equal(2L, reader.GetInt64(1)); // the other family: its first token (used) and its successor
    }

    [Fact]
    public async Task Two_concurrent_refreshes_of_one_token_both_answer_and_the_session_goes_on_through_the_later_successor_only()
    {
        using var a = cluster.ClientA();
        using var b = cluster.ClientB();
        var signedIn = await a.DevLoginAsync(ApiCluster.UniqueLogin("carol"));

        // The second refresh to take the token's lock is a retry (the first successor is unused): both answer, and the
        // first successor is superseded, so the two can never both be used.
        var responses = await Task.WhenAll(
            a.PostAsync("/auth/refresh", new { refresh_token = signedIn.RefreshToken }),
            b.PostAsync("/auth/refresh", new { refresh_token = signedIn.RefreshToken }));
        var successors = new List<SignedIn>();
        foreach (var response in responses)
        {
            successors.Add(SignedIn.From(await ApiClient.ExpectAsync(response, HttpStatusCode.OK)));
        }
        var superseded = await SupersededAsync(successors.Select(s => s.RefreshToken));
        var live = Assert.Single(successors, s => !superseded.Contains(s.RefreshToken));
        var lost = Assert.Single(successors, s => superseded.Contains(s.RefreshToken));

        var next = SignedIn.From(await ApiClient.ExpectAsync(await a.PostAsync("/auth/refresh", new { refresh_token = live.RefreshToken }), HttpStatusCode.OK));
        // The superseded one turning up later is a second holder: reuse, and the whole session ends.
        await ApiClient.ExpectProblemAsync(await b.PostAsync("/auth/refresh", new { refresh_token = lost.RefreshToken }),
            HttpStatusCode.Unauthorized, "Refresh token reuse detected");
        await ApiClient.ExpectProblemAsync(await a.PostAsync("/auth/refresh", new { refresh_token = next.RefreshToken }),
            HttpStatusCode.Unauthorized, "Refresh token revoked");
    }

    [Fact]
    public async Task A_client_that_lost_its_refresh_answer_presents_the_token_again_within_the_window_and_gets_a_new_successor()
    {
        using var a = cluster.ClientA();
        using var b = cluster.ClientB();
        var signedIn = await a.DevLoginAsync(ApiCluster.UniqueLogin("reloaded"));
        // The answer to this refresh is lost (say, the VS Code window reloaded while it was in flight)...
        var lost = SignedIn.From(await ApiClient.ExpectAsync(await a.PostAsync("/auth/refresh", new { refresh_token = signedIn.RefreshToken }), HttpStatusCode.OK));

        // ...so the client, which still holds the old token, presents it again (on the other instance): a new successor.
        var retried = SignedIn.From(await ApiClient.ExpectAsync(await b.PostAsync("/auth/refresh", new { refresh_token = signedIn.RefreshToken }), HttpStatusCode.OK));
        Assert.NotEqual(lost.RefreshToken, retried.RefreshToken);
        using (var withRetried = cluster.ClientA(retried.AccessToken))
        {
            await ApiClient.ExpectAsync(await withRetried.GetAsync("/auth/me"), HttpStatusCode.OK);
        }
        var next = SignedIn.From(await ApiClient.ExpectAsync(await a.PostAsync("/auth/refresh", new { refresh_token = retried.RefreshToken }), HttpStatusCode.OK));

        // Once the new successor was used, the old token is no retry any more: reuse, and the session ends.
        await ApiClient.ExpectProblemAsync(await b.PostAsync("/auth/refresh", new { refresh_token = signedIn.RefreshToken }),
            HttpStatusCode.Unauthorized, "Refresh token reuse detected");
        await ApiClient.ExpectProblemAsync(await a.PostAsync("/auth/refresh", new { refresh_token = next.RefreshToken }),
            HttpStatusCode.Unauthorized, "Refresh token revoked");
        using var withNext = cluster.ClientB(next.AccessToken);
        await ApiClient.ExpectProblemAsync(await withNext.GetAsync("/auth/me"), HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task A_used_refresh_token_presented_again_after_the_retry_window_is_reuse_even_with_its_successor_unused()
    {
        using var a = cluster.ClientA();
        var signedIn = await a.DevLoginAsync(ApiCluster.UniqueLogin("late"));
        var successor = SignedIn.From(await ApiClient.ExpectAsync(await a.PostAsync("/auth/refresh", new { refresh_token = signedIn.RefreshToken }), HttpStatusCode.OK));

        // Waiting out the configured window (ApiCluster: a few seconds) is the point of this test, not a timing assumption.
        await Task.Delay(ApiCluster.RefreshRetryWindow + TimeSpan.FromSeconds(1));
        await ApiClient.ExpectProblemAsync(await a.PostAsync("/auth/refresh", new { refresh_token = signedIn.RefreshToken }),
            HttpStatusCode.Unauthorized, "Refresh token reuse detected");
        await ApiClient.ExpectProblemAsync(await a.PostAsync("/auth/refresh", new { refresh_token = successor.RefreshToken }),
            HttpStatusCode.Unauthorized, "Refresh token revoked");
    }

    /// <summary>Which of these refresh tokens the Api marked superseded (looked up by hash, as the Api stores them).</summary>
    private async Task<HashSet<string>> SupersededAsync(IEnumerable<string> refreshTokens)
    {
        await using var dataSource = NpgsqlDataSource.Create(cluster.ConnectionString);
        var superseded = new HashSet<string>();
        foreach (var token in refreshTokens)
        {
            await using var command = dataSource.CreateCommand("SELECT superseded_at IS NOT NULL FROM refresh_tokens WHERE token_hash = $1");
            command.Parameters.AddWithValue(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(token)));
            if (await command.ExecuteScalarAsync() is true)
            {
                superseded.Add(token);
            }
        }
        return superseded;
    }

    [Fact]
    public async Task Revoke_signs_the_session_out()
    {
        using var a = cluster.ClientA();
        using var b = cluster.ClientB();
        var signedIn = await a.DevLoginAsync(ApiCluster.UniqueLogin("dave"));
        var rotated = SignedIn.From(await ApiClient.ExpectAsync(await a.PostAsync("/auth/refresh", new { refresh_token = signedIn.RefreshToken }), HttpStatusCode.OK));

        await ApiClient.ExpectAsync(await b.PostAsync("/auth/revoke", new { refresh_token = rotated.RefreshToken }), HttpStatusCode.NoContent);
        await ApiClient.ExpectProblemAsync(await a.PostAsync("/auth/refresh", new { refresh_token = rotated.RefreshToken }),
            HttpStatusCode.Unauthorized, "Refresh token revoked");

        // Unknown tokens are not an error (RFC 7009); a missing one is.
        await ApiClient.ExpectAsync(await a.PostAsync("/auth/revoke", new { refresh_token = "crt_unknown" }), HttpStatusCode.NoContent);
        await ApiClient.ExpectProblemAsync(await a.PostAsync("/auth/revoke", new { }), HttpStatusCode.BadRequest, "Missing refresh token");
        await ApiClient.ExpectProblemAsync(await a.PostAsync("/auth/refresh", new { refresh_token = "not-a-token" }),
            HttpStatusCode.Unauthorized, "Invalid refresh token");
    }

    [Fact]
    public async Task An_access_token_in_a_url_is_never_read_even_on_socket_paths_and_never_logged()
    {
        using var a = cluster.ClientA();
        var signedIn = await a.DevLoginAsync(ApiCluster.UniqueLogin("erin"));
        var token = Uri.EscapeDataString(signedIn.AccessToken);

        // URLs end up in proxy logs, traces and browser history: a token there opens nothing, sockets included. (Nothing
        // is mapped at these socket paths, so a request that did authenticate would be a 404.)
        Assert.Equal(HttpStatusCode.Unauthorized, (await a.GetAsync($"/hubs/probe?access_token={token}")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await a.GetAsync($"/ws/probe/unmapped?access_token={token}")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await a.GetAsync($"/ws/probe/unmapped?ticket={token}")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await a.GetAsync($"/auth/me?access_token={token}")).StatusCode);

        await Task.Delay(300);
        Assert.DoesNotContain(signedIn.AccessToken[..40], cluster.Output, StringComparison.Ordinal);
        Assert.DoesNotContain(signedIn.RefreshToken, cluster.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_socket_ticket_opens_one_socket_request_once_on_any_instance_and_nothing_else()
    {
        using var anonymous = cluster.ClientA();
        await ApiClient.ExpectProblemAsync(await anonymous.PostAsync("/auth/socket-ticket", new { }), HttpStatusCode.Unauthorized);
        var signedIn = await anonymous.DevLoginAsync(ApiCluster.UniqueLogin("tess"));
        using var a = cluster.ClientA(signedIn.AccessToken);
        using var b = cluster.ClientB();

        async Task<string> TicketAsync()
        {
            var answer = await ApiClient.ExpectAsync(await a.PostAsync("/auth/socket-ticket", new { }), HttpStatusCode.OK);
            Assert.InRange(answer.GetProperty("expires_in").GetInt32(), 1, 30);
            return Uri.EscapeDataString(answer.GetProperty("ticket").GetString()!);
        }

        // Minted on A, accepted on B (one key ring), once: a ticket copied from a log afterwards opens nothing.
        var ticket = await TicketAsync();
        Assert.Equal(HttpStatusCode.NotFound, (await b.GetAsync($"/ws/probe/unmapped?ticket={ticket}")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await b.GetAsync($"/ws/probe/unmapped?ticket={ticket}")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await a.GetAsync($"/ws/probe/unmapped?ticket={ticket}")).StatusCode);

        // SignalR's client puts it in access_token; that works on the hub paths alike.
        Assert.Equal(HttpStatusCode.NotFound, (await b.GetAsync($"/hubs/probe?access_token={await TicketAsync()}")).StatusCode);

        // Sockets only: not in the query of an ordinary endpoint, not as a bearer token.
        var other = await TicketAsync();
        Assert.Equal(HttpStatusCode.Unauthorized, (await b.GetAsync($"/auth/me?ticket={other}")).StatusCode);
        using var bearer = cluster.ClientB(Uri.UnescapeDataString(other));
        Assert.Equal(HttpStatusCode.Unauthorized, (await bearer.GetAsync("/auth/me")).StatusCode);

        // A tampered ticket is refused.
        var tampered = Uri.UnescapeDataString(await TicketAsync());
        tampered = tampered[..^4] + (tampered[^4] == 'A' ? 'B' : 'A') + tampered[^3..];
        Assert.Equal(HttpStatusCode.Unauthorized, (await b.GetAsync($"/ws/probe/unmapped?ticket={Uri.EscapeDataString(tampered)}")).StatusCode);
    }

    [Fact]
    public async Task A_bad_or_tampered_token_is_a_401()
    {
        using var a = cluster.ClientA();
        var signedIn = await a.DevLoginAsync(ApiCluster.UniqueLogin("frank"));
        var chars = signedIn.AccessToken.ToCharArray();
        chars[chars.Length / 2] = chars[chars.Length / 2] == 'A' ? 'B' : 'A';
        foreach (var bad in new[] { new string(chars), "garbage", signedIn.RefreshToken })
        {
            using var client = cluster.ClientB(bad);
            var response = await client.GetAsync("/auth/me");
            await ApiClient.ExpectProblemAsync(response, HttpStatusCode.Unauthorized);
        }
    }

    [Fact]
    public async Task Dev_login_is_off_by_default_and_invalid_options_stop_the_start()
    {
        await using (var instance = ServiceInstance.Start("Conductor.Api", cluster.Environment(devLogin: false)))
        {
            using var client = new ApiClient(await instance.WaitUntilListeningAsync(ApiCluster.StartTimeout));
            var problem = await ApiClient.ExpectProblemAsync(await client.PostAsync("/auth/dev", new { login = "mallory" }),
                HttpStatusCode.NotFound, "Dev login is disabled");
            Assert.Contains("Auth:DevLogin", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        }

        var invalid = cluster.Environment();
        invalid["Auth__AccessTokenLifetime"] = "00:00:00";
        invalid["Auth__GitHub__ApiUrl"] = "not a url";
        await using var broken = ServiceInstance.Start("Conductor.Api", invalid);
        var exit = await broken.Exited.WaitAsync(ApiCluster.StartTimeout);
        Assert.NotEqual(0, exit);
        Assert.Contains("Auth:AccessTokenLifetime", broken.Output, StringComparison.Ordinal);
    }
}
