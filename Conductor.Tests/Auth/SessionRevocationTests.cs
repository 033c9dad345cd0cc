using System.Net;
using System.Net.WebSockets;
using System.Text;
using Conductor.Tests.Chat;
using Conductor.Tests.Conversations;
using Conductor.Tests.Infrastructure;

namespace Conductor.Tests.Auth;

/// <summary>
/// Signing out (POST /auth/revoke) refuses the session's access tokens and socket tickets on every instance at once
/// and ends its live sockets and streams, while the same user's other sessions keep working. Two real Api processes, one real
/// Postgres, one real Redis.
/// </summary>
[Collection(ApiClusterCollection.Name)]
public sealed class SessionRevocationTests(ApiCluster cluster)
{
    /// <summary>Sign-in and refresh-token handling take no access token, so they are not part of the sweep.</summary>
    private static readonly HashSet<string> Anonymous =
    [
        "POST /auth/dev", "POST /auth/github/device", "POST /auth/github/poll", "POST /auth/github/token",
        "POST /auth/refresh", "POST /auth/revoke",
    ];

    [Fact]
    public async Task Signing_out_on_one_instance_refuses_the_sessions_access_token_on_every_route_of_both_instances_while_other_sessions_keep_working()
    {
        using var anonymous = cluster.ClientA();
        var login = ApiCluster.UniqueLogin("leaver");
        var leaving = await anonymous.DevLoginAsync(login);
        var staying = await anonymous.DevLoginAsync(login); // the same user on another device
        Assert.Equal(leaving.UserId, staying.UserId);
        using var leavingA = cluster.ClientA(leaving.AccessToken);
        using var leavingB = cluster.ClientB(leaving.AccessToken);
        await ApiClient.ExpectAsync(await leavingB.GetAsync("/rooms"), HttpStatusCode.OK);
        var ticket = await TicketAsync(leavingA);

        await ApiClient.ExpectAsync(await anonymous.PostAsync("/auth/revoke", new { refresh_token = leaving.RefreshToken }), HttpStatusCode.NoContent);

        // The instance that signed it out refuses it before answering.
        await ApiClient.ExpectProblemAsync(await leavingA.GetAsync("/rooms"), HttpStatusCode.Unauthorized);
        await ApiClient.ExpectProblemAsync(await leavingA.GetAsync("/auth/me"), HttpStatusCode.Unauthorized);
        await ApiClient.ExpectProblemAsync(await leavingA.PostAsync("/auth/socket-ticket", new { }), HttpStatusCode.Unauthorized);
        // The other one as soon as Redis has handed it the publish.
        await UntilUnauthorizedAsync(leavingB, "/rooms");
        await ApiClient.ExpectProblemAsync(await leavingB.PostAsync("/auth/socket-ticket", new { }), HttpStatusCode.Unauthorized);
        // A ticket minted before the sign-out opens no socket after it (an accepted one reaches the 404 behind).
        Assert.Equal(HttpStatusCode.Unauthorized, (await leavingB.GetAsync($"/ws/probe/unmapped?ticket={ticket}")).StatusCode);

        // Every documented operation, on both instances.
        var failures = new List<string>();
        foreach (var route in (await OpenApiRoute.ReadAsync(cluster.UrlA)).Where(r => !Anonymous.Contains(r.ToString())))
        {
            foreach (var client in new[] { leavingA, leavingB })
            {
                using var response = await client.SendAsync(route.Request(Guid.NewGuid(), leaving.AccessToken));
                if (response.StatusCode != HttpStatusCode.Unauthorized)
                {
                    failures.Add($"{route} on {client.BaseAddress}: {(int)response.StatusCode}");
                }
            }
        }
        Assert.True(failures.Count == 0, string.Join("\n", failures));

        // The refresh token is gone too, and the user's other session is untouched everywhere.
        await ApiClient.ExpectProblemAsync(await anonymous.PostAsync("/auth/refresh", new { refresh_token = leaving.RefreshToken }),
            HttpStatusCode.Unauthorized, "Refresh token revoked");
        foreach (var client in new[] { cluster.ClientA(staying.AccessToken), cluster.ClientB(staying.AccessToken) })
        {
            using (client)
            {
                await ApiClient.ExpectAsync(await client.GetAsync("/auth/me"), HttpStatusCode.OK);
                Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync($"/ws/probe/unmapped?ticket={await TicketAsync(client)}")).StatusCode);
            }
        }
    }

    [Fact]
    public async Task A_refreshed_access_token_belongs_to_the_same_session_and_is_refused_with_it()
    {
        using var anonymous = cluster.ClientB();
        var first = await anonymous.DevLoginAsync(ApiCluster.UniqueLogin("renewer"));
        var renewed = SignedIn.From(await ApiClient.ExpectAsync(
            await anonymous.PostAsync("/auth/refresh", new { refresh_token = first.RefreshToken }), HttpStatusCode.OK));

        // Signing out with the newest refresh token ends the older access token as well as the newer one.
        await ApiClient.ExpectAsync(await anonymous.PostAsync("/auth/revoke", new { refresh_token = renewed.RefreshToken }), HttpStatusCode.NoContent);
        foreach (var token in new[] { first.AccessToken, renewed.AccessToken })
        {
            using var b = cluster.ClientB(token);
            await ApiClient.ExpectProblemAsync(await b.GetAsync("/rooms"), HttpStatusCode.Unauthorized);
            using var a = cluster.ClientA(token);
            await UntilUnauthorizedAsync(a, "/rooms");
        }
    }

    [Fact]
    public async Task Presenting_a_used_refresh_token_again_refuses_the_access_tokens_of_its_session_on_both_instances()
    {
        using var anonymous = cluster.ClientA();
        var stolen = await anonymous.DevLoginAsync(ApiCluster.UniqueLogin("victim"));
        var thief = SignedIn.From(await ApiClient.ExpectAsync(
            await anonymous.PostAsync("/auth/refresh", new { refresh_token = stolen.RefreshToken }), HttpStatusCode.OK));
        // The thief goes on refreshing (so the victim's second use below cannot pass for a retry after a lost answer).
        thief = SignedIn.From(await ApiClient.ExpectAsync(
            await anonymous.PostAsync("/auth/refresh", new { refresh_token = thief.RefreshToken }), HttpStatusCode.OK));

        await ApiClient.ExpectProblemAsync(await anonymous.PostAsync("/auth/refresh", new { refresh_token = stolen.RefreshToken }),
            HttpStatusCode.Unauthorized, "Refresh token reuse detected");

        foreach (var token in new[] { stolen.AccessToken, thief.AccessToken })
        {
            using var a = cluster.ClientA(token);
            await ApiClient.ExpectProblemAsync(await a.GetAsync("/rooms"), HttpStatusCode.Unauthorized);
            using var b = cluster.ClientB(token);
            await UntilUnauthorizedAsync(b, "/rooms");
        }
    }

    [Fact]
    public async Task An_instance_started_after_a_sign_out_refuses_that_sessions_access_token_from_its_first_request()
    {
        using var anonymous = cluster.ClientA();
        var login = ApiCluster.UniqueLogin("latecomer");
        var leaving = await anonymous.DevLoginAsync(login);
        var staying = await anonymous.DevLoginAsync(login);
        await ApiClient.ExpectAsync(await anonymous.PostAsync("/auth/revoke", new { refresh_token = leaving.RefreshToken }), HttpStatusCode.NoContent);

        // It was not running to hear the publish: it loads the revoked sessions from Redis before it listens.
        var (instance, url) = await ServiceInstance.StartListeningAsync("Conductor.Api", cluster.Environment(), ApiCluster.StartTimeout);
        await using (instance)
        {
            using var revoked = new ApiClient(url, leaving.AccessToken);
            await ApiClient.ExpectProblemAsync(await revoked.GetAsync("/rooms"), HttpStatusCode.Unauthorized);
            using var other = new ApiClient(url, staying.AccessToken);
            await ApiClient.ExpectAsync(await other.GetAsync("/rooms"), HttpStatusCode.OK);
        }
    }

    [Fact]
    public async Task Signing_out_closes_the_sessions_chat_socket_with_1008_and_its_hub_connection_on_the_other_instance_and_leaves_other_sessions_open()
    {
        using var anonymous = cluster.ClientA();
        var login = ApiCluster.UniqueLogin("talker");
        var leaving = await anonymous.DevLoginAsync(login);
        var staying = await anonymous.DevLoginAsync(login);
        using var host = cluster.ClientA(staying.AccessToken);
        var roomId = (await ApiClient.ExpectAsync(await host.PostAsync("/rooms", new { name = "revocation" }), HttpStatusCode.Created))
            .GetProperty("room_id").GetGuid();
        var socketUrl = new UriBuilder(cluster.UrlB) { Scheme = "ws", Path = $"/ws/{roomId:D}" }.Uri;
        var hubUrl = new UriBuilder(cluster.UrlB) { Scheme = "ws", Path = "/hubs/chat" }.Uri;

        await using var leavingSocket = await ChatSocket.ConnectAsync(new SocketEndpoint(socketUrl, leaving.AccessToken));
        await using var stayingSocket = await ChatSocket.ConnectAsync(new SocketEndpoint(socketUrl, staying.AccessToken));
        await leavingSocket.WaitForTypeAsync("presence");
        await stayingSocket.WaitForTypeAsync("presence");
        using var leavingHub = await ConnectHubAsync(hubUrl, leaving.AccessToken);
        using var stayingHub = await ConnectHubAsync(hubUrl, staying.AccessToken);
        var leavingHubEnded = ReadUntilClosedAsync(leavingHub);
        var stayingHubEnded = ReadUntilClosedAsync(stayingHub);

        // Signed out on A; the connections are on B.
        await ApiClient.ExpectAsync(await anonymous.PostAsync("/auth/revoke", new { refresh_token = leaving.RefreshToken }), HttpStatusCode.NoContent);

        Assert.Equal(WebSocketCloseStatus.PolicyViolation, await leavingSocket.WaitForCloseAsync(TimeSpan.FromSeconds(10)));
        await leavingHubEnded.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.NotEqual(WebSocketState.Open, leavingHub.State);

        // The user's other session still talks, on the socket and on the hub.
        await stayingSocket.SendAsync(new { type = "chat", content = "still here" });
        await stayingSocket.WaitForTypeAsync("chat", f => f.GetProperty("content").GetString() == "still here");
        Assert.Equal(WebSocketState.Open, stayingSocket.State);
        Assert.False(stayingHubEnded.IsCompleted, "the other session's hub connection stayed open");
        Assert.Equal(WebSocketState.Open, stayingHub.State);
    }

    [Fact]
    public async Task Signing_out_ends_the_sessions_room_event_stream_on_the_other_instance_while_another_session_of_the_user_keeps_streaming()
    {
        using var anonymous = cluster.ClientA();
        var login = ApiCluster.UniqueLogin("follower");
        var leaving = await anonymous.DevLoginAsync(login);
        var staying = await anonymous.DevLoginAsync(login);
        using var host = cluster.ClientA(staying.AccessToken);
        var roomId = (await ApiClient.ExpectAsync(await host.PostAsync("/rooms", new { name = "revocation-events" }), HttpStatusCode.Created))
            .GetProperty("room_id").GetGuid();
        await using var leavingEvents = await SseReader.OpenAsync(cluster.UrlB, leaving.AccessToken, $"/rooms/{roomId:D}/events");
        await using var stayingEvents = await SseReader.OpenAsync(cluster.UrlB, staying.AccessToken, $"/rooms/{roomId:D}/events");
        Assert.Equal("ready", (await leavingEvents.NextAsync())?.Type);
        Assert.Equal("ready", (await stayingEvents.NextAsync())?.Type);

        // Signed out on A; the streams are on B.
        await ApiClient.ExpectAsync(await anonymous.PostAsync("/auth/revoke", new { refresh_token = leaving.RefreshToken }), HttpStatusCode.NoContent);

        // The response ends cleanly (a reset would throw): nothing more, not even the heartbeat due 15 s after ready.
        Assert.Null(await leavingEvents.NextAsync().WaitAsync(TimeSpan.FromSeconds(10)));

        // The user's other session follows the room on: someone joins, and its stream says so.
        var invite = (await ApiClient.ExpectAsync(await host.PostAsync($"/rooms/{roomId:D}/invites", new { }), HttpStatusCode.Created))
            .GetProperty("token").GetString();
        var joiner = await anonymous.DevLoginAsync(ApiCluster.UniqueLogin("joiner"));
        using (var joining = cluster.ClientB(joiner.AccessToken))
        {
            await ApiClient.ExpectAsync(await joining.PostAsync("/rooms/join", new { token = invite }), HttpStatusCode.OK);
        }
        var joined = (await stayingEvents.ReadUntilAsync(e => e.Type == "member_joined").WaitAsync(TimeSpan.FromSeconds(10)))[^1];
        Assert.Equal(joiner.UserId, joined.Data.GetProperty("user_id").GetGuid());
    }

    [Fact]
    public async Task Signing_out_while_Redis_is_down_answers_503_and_a_retry_once_it_is_back_refuses_the_token_everywhere()
    {
        using var anonymous = cluster.ClientA();
        var session = await anonymous.DevLoginAsync(ApiCluster.UniqueLogin("outage"));
        using var a = cluster.ClientA(session.AccessToken);
        using var b = cluster.ClientB(session.AccessToken);
        await cluster.Redis.Server.StopAsync();
        try
        {
            var problem = await ApiClient.ExpectProblemAsync(
                await anonymous.PostAsync("/auth/revoke", new { refresh_token = session.RefreshToken }), HttpStatusCode.ServiceUnavailable, "Sign-out not yet shared");
            Assert.Equal("sign_out_not_shared", problem.GetProperty("code").GetString());
            // What Postgres and this instance's memory hold is done: no refresh, no access here.
            await ApiClient.ExpectProblemAsync(await anonymous.PostAsync("/auth/refresh", new { refresh_token = session.RefreshToken }),
                HttpStatusCode.Unauthorized, "Refresh token revoked");
            await ApiClient.ExpectProblemAsync(await a.GetAsync("/auth/me"), HttpStatusCode.Unauthorized);
        }
        finally
        {
            await cluster.Redis.RestartAsync();
        }
        // The documented gap: the other instance was never told.
        await ApiClient.ExpectAsync(await b.GetAsync("/rooms"), HttpStatusCode.OK);

        // Retried once the instance has its Redis connection back (the CLI keeps its session file on a 503, so `logout` again does this).
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (true)
        {
            using var retry = await anonymous.PostAsync("/auth/revoke", new { refresh_token = session.RefreshToken });
            if (retry.StatusCode == HttpStatusCode.NoContent)
            {
                break;
            }
            await ApiClient.ExpectProblemAsync(retry, HttpStatusCode.ServiceUnavailable);
            Assert.True(DateTime.UtcNow < deadline, "the Api never reconnected to Redis");
            await Task.Delay(200);
        }
        await UntilUnauthorizedAsync(b, "/rooms");
    }

    private static async Task<string> TicketAsync(ApiClient client)
    {
        var answer = await ApiClient.ExpectAsync(await client.PostAsync("/auth/socket-ticket", new { }), HttpStatusCode.OK);
        return Uri.EscapeDataString(answer.GetProperty("ticket").GetString()!);
    }

    /// <summary>
    /// Redis hands the publish to the other instance asynchronously (well under a millisecond here); this waits for that
    /// delivery, not for any timing, and fails if it never comes.
    /// </summary>
    private static async Task UntilUnauthorizedAsync(ApiClient client, string path)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (true)
        {
            using var response = await client.GetAsync(path);
            if (response.StatusCode == HttpStatusCode.Unauthorized)
            {
                await ApiClient.ExpectProblemAsync(response, HttpStatusCode.Unauthorized);
                return;
            }
            Assert.True(DateTime.UtcNow < deadline, $"{client.BaseAddress} still answers {(int)response.StatusCode} to the signed-out session");
            await Task.Delay(20);
        }
    }

    /// <summary>A SignalR JSON-protocol connection straight over a WebSocket (as the JavaScript client does after negotiating).</summary>
    private static async Task<ClientWebSocket> ConnectHubAsync(Uri hubUrl, string accessToken)
    {
        var socket = new ClientWebSocket();
        new SocketEndpoint(hubUrl, accessToken).Apply(socket.Options);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        await socket.ConnectAsync(hubUrl, timeout.Token);
        await socket.SendAsync(Encoding.UTF8.GetBytes("{\"protocol\":\"json\",\"version\":1}\u001e"), WebSocketMessageType.Text, true, timeout.Token);
        var buffer = new byte[4096];
        var handshake = await socket.ReceiveAsync(buffer, timeout.Token);
        Assert.Equal("{}\u001e", Encoding.UTF8.GetString(buffer, 0, handshake.Count));
        return socket;
    }

    /// <summary>Reads (pings and all) until the server closes or drops the connection.</summary>
    private static async Task ReadUntilClosedAsync(ClientWebSocket socket)
    {
        var buffer = new byte[4096];
        try
        {
            while ((await socket.ReceiveAsync(buffer, CancellationToken.None)).MessageType != WebSocketMessageType.Close)
            {
            }
        }
        catch (WebSocketException)
        {
        }
    }
}
