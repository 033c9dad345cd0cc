using System.Collections.Concurrent;
using System.Net;
using System.Text.Json;
using Conductor.Tests.Auth;
using Microsoft.Extensions.Logging.Abstractions;
using StackExchange.Redis;

namespace Conductor.Tests.Rooms;

/// <summary>Invites, joining, host actions and the end of a session, with their membership events on Redis.</summary>
[Collection(ApiClusterCollection.Name)]
public sealed class MembershipTests(ApiCluster cluster)
{
    /// <summary>Room routes the sweep must find, so that it is not vacuous; any other route with a room_id is swept too.</summary>
    private static readonly string[] KnownRoomRoutes =
    [
        "GET /rooms/{room_id}", "POST /rooms/{room_id}/end", "DELETE /rooms/{room_id}/members/{user_id}", "GET /rooms/{room_id}/files",
        "GET /chat/{room_id}/history", "POST /chat/{room_id}/messages", "GET /workspace/{room_id}", "PUT /workspace/{room_id}/file",
        "DELETE /workspace/{room_id}", "GET /audit",
    ];

    [Fact]
    public async Task Every_room_route_in_the_OpenAPI_document_declares_its_access_and_refuses_outsiders_guests_and_ended_rooms_alike()
    {
        var (host, roomId) = await CreateRoomAsync("fortress");
        using var hostClient = cluster.ClientA(host.AccessToken);
        var guest = await JoinAsync(await InviteAsync(hostClient, roomId));
        var (endedHost, endedRoomId) = await CreateRoomAsync("finished");
        using (var endedHostClient = cluster.ClientA(endedHost.AccessToken))
        {
            await ApiClient.ExpectAsync(await endedHostClient.PostAsync($"/rooms/{endedRoomId}/end", null), HttpStatusCode.OK);
        }
        using var anonymous = cluster.ClientA();
        var outsider = await anonymous.DevLoginAsync(ApiCluster.UniqueLogin("outsider"));
        using var client = cluster.ClientB();

        var roomRoutes = (await OpenApiRoute.ReadAsync(cluster.UrlA)).Where(r => r.RoomIdIn is not null).ToList();
        Assert.Empty(KnownRoomRoutes.Except(roomRoutes.Select(r => r.ToString())));
        Assert.True(roomRoutes.Count >= 21, $"Only {roomRoutes.Count} room routes documented: {string.Join(", ", roomRoutes)}");
        Assert.Contains(roomRoutes, r => r.Access is { HostOnly: true });
        Assert.Contains(roomRoutes, r => r.Access is { Write: true });

        var failures = new List<string>();
        async Task ExpectAsync(OpenApiRoute route, string id, SignedIn? caller, HttpStatusCode status, string? code, string what)
        {
            using var response = await client.SendAsync(route.Request(id, caller?.AccessToken));
            var body = await response.Content.ReadAsStringAsync();
            var actualCode = response.Content.Headers.ContentType?.MediaType == "application/problem+json"
                && JsonDocument.Parse(body).RootElement.TryGetProperty("code", out var c) ? c.GetString() : null;
            if (response.StatusCode != status || (code is not null && actualCode != code))
            {
                failures.Add($"{route} {what}: {(int)response.StatusCode} {body}");
            }
        }
        foreach (var route in roomRoutes)
        {
            if (route.Access is not { } access)
            {
                failures.Add($"{route} takes a room_id but declares no RequireRoomAccess()");
                continue;
            }
            await ExpectAsync(route, roomId.ToString(), null, HttpStatusCode.Unauthorized, null, "anonymous");
            await ExpectAsync(route, "not-a-uuid", outsider, HttpStatusCode.BadRequest, "malformed_id", "with a malformed id");
            await ExpectAsync(route, roomId.ToString(), outsider, HttpStatusCode.Forbidden, "not_in_room", "by a non-member");
            await ExpectAsync(route, Guid.NewGuid().ToString(), outsider, HttpStatusCode.Forbidden, "not_in_room", "on a missing room");
            if (access.HostOnly)
            {
                await ExpectAsync(route, roomId.ToString(), guest, HttpStatusCode.Forbidden, "host_only", "by a guest");
            }
            if (access.Write)
            {
                await ExpectAsync(route, endedRoomId.ToString(), endedHost, HttpStatusCode.Forbidden, "room_ended", "in an ended room");
            }
        }
        Assert.True(failures.Count == 0, string.Join("\n", failures));

        // Nothing the outsider or the guest tried changed the room.
        var detail = await ApiClient.ExpectAsync(await hostClient.GetAsync($"/rooms/{roomId}"), HttpStatusCode.OK);
        Assert.Equal(host.UserId, detail.GetProperty("host_user_id").GetGuid());
        Assert.Equal(JsonValueKind.Null, detail.GetProperty("ended_at").ValueKind);
        Assert.Equal(2, detail.GetProperty("members").GetArrayLength());
    }

    [Fact]
    public async Task Invites_admit_guests_on_either_instance_and_single_use_expired_and_tampered_ones_are_refused()
    {
        var (host, roomId) = await CreateRoomAsync("invites");
        await using var events = await EventLog.SubscribeAsync(cluster, roomId);
        using var hostClient = cluster.ClientA(host.AccessToken);

        var invite = await ApiClient.ExpectAsync(await hostClient.PostAsync($"/rooms/{roomId}/invites", new { }), HttpStatusCode.Created);
        var token = invite.GetProperty("token").GetString()!;
        Assert.Equal($"https://conductor.example/join?token={Uri.EscapeDataString(token)}", invite.GetProperty("url").GetString());
        Assert.False(invite.GetProperty("single_use").GetBoolean());
        var expiresAt = invite.GetProperty("expires_at").GetDateTimeOffset();
        Assert.InRange(expiresAt - DateTimeOffset.UtcNow, TimeSpan.FromDays(6.9), TimeSpan.FromDays(7.1));

        // A multi-use invite admits several guests, each joining through the other instance.
        var guest = await JoinAsync(token);
        var second = await JoinAsync(token);
        // Joining again is harmless and keeps the role; the host redeeming their own invite stays host.
        using (var again = cluster.ClientA(guest.AccessToken))
        {
            var rejoin = await ApiClient.ExpectAsync(await again.PostAsync("/rooms/join", new { token }), HttpStatusCode.OK);
            Assert.Equal("guest", rejoin.GetProperty("role").GetString());
        }
        Assert.Equal("host", (await ApiClient.ExpectAsync(await hostClient.PostAsync("/rooms/join", new { token }), HttpStatusCode.OK)).GetProperty("role").GetString());

        var detail = await ApiClient.ExpectAsync(await hostClient.GetAsync($"/rooms/{roomId}"), HttpStatusCode.OK);
        var members = detail.GetProperty("members").EnumerateArray().ToDictionary(m => m.GetProperty("user_id").GetGuid(), m => m.GetProperty("role").GetString());
        Assert.Equal(new Dictionary<Guid, string?> { [host.UserId] = "host", [guest.UserId] = "guest", [second.UserId] = "guest" }, members);
        await events.WaitForAsync(e => e.Count(x => x.GetProperty("type").GetString() == "member_joined") == 2);
        var joined = events.Events.First(e => e.GetProperty("type").GetString() == "member_joined");
        Assert.Equal(roomId, joined.GetProperty("room_id").GetGuid());
        Assert.Equal(guest.UserId, joined.GetProperty("user_id").GetGuid());
        Assert.Equal(guest.Login, joined.GetProperty("login").GetString());

        // Guests cannot invite.
        using (var guestClient = cluster.ClientB(guest.AccessToken))
        {
            await ApiClient.ExpectProblemAsync(await guestClient.PostAsync($"/rooms/{roomId}/invites", new { }), HttpStatusCode.Forbidden, "Host only");
        }

        // Single use: the first newcomer spends it.
        var single = (await ApiClient.ExpectAsync(await hostClient.PostAsync($"/rooms/{roomId}/invites", new { single_use = true }), HttpStatusCode.Created))
            .GetProperty("token").GetString()!;
        await JoinAsync(single);
        await ApiClient.ExpectProblemAsync(await JoinResponseAsync(single), HttpStatusCode.Gone, "Invite already used");

        // Tampered: any altered character breaks the authenticated encryption.
        var chars = token.ToCharArray();
        chars[token.Length / 2] = chars[token.Length / 2] == 'x' ? 'y' : 'x';
        await ApiClient.ExpectProblemAsync(await JoinResponseAsync(new string(chars)), HttpStatusCode.BadRequest, "Invalid invite");
        await ApiClient.ExpectProblemAsync(await JoinResponseAsync("%%%"), HttpStatusCode.BadRequest, "Invalid invite");
        await ApiClient.ExpectProblemAsync(await JoinResponseAsync(""), HttpStatusCode.BadRequest, "Missing invite token");

        // Expired.
        var shortLived = (await ApiClient.ExpectAsync(await hostClient.PostAsync($"/rooms/{roomId}/invites", new { expires_in_seconds = 1 }), HttpStatusCode.Created))
            .GetProperty("token").GetString()!;
        await Task.Delay(1500);
        await ApiClient.ExpectProblemAsync(await JoinResponseAsync(shortLived), HttpStatusCode.Gone, "Invite expired");

        foreach (var seconds in new[] { 0, -5, 31 * 24 * 3600 })
        {
            await ApiClient.ExpectProblemAsync(await hostClient.PostAsync($"/rooms/{roomId}/invites", new { expires_in_seconds = seconds }),
                HttpStatusCode.BadRequest, "Invalid invite lifetime");
        }
    }

    [Fact]
    public async Task The_host_transfers_the_role_and_the_new_host_alone_holds_host_powers()
    {
        var (host, roomId) = await CreateRoomAsync("handover");
        await using var events = await EventLog.SubscribeAsync(cluster, roomId);
        using var hostClient = cluster.ClientA(host.AccessToken);
        var guest = await JoinAsync(await InviteAsync(hostClient, roomId));
        using var guestClient = cluster.ClientB(guest.AccessToken);

        await ApiClient.ExpectProblemAsync(await guestClient.PostAsync($"/rooms/{roomId}/transfer-host", new { user_id = guest.UserId }),
            HttpStatusCode.Forbidden, "Host only");
        await ApiClient.ExpectProblemAsync(await hostClient.PostAsync($"/rooms/{roomId}/transfer-host", new { user_id = Guid.NewGuid() }),
            HttpStatusCode.NotFound, "No such member");
        await ApiClient.ExpectProblemAsync(await hostClient.PostAsync($"/rooms/{roomId}/transfer-host", new { user_id = host.UserId }),
            HttpStatusCode.BadRequest, "Already host");
        await ApiClient.ExpectProblemAsync(await hostClient.PostAsync($"/rooms/{roomId}/transfer-host", new { }),
            HttpStatusCode.BadRequest, "Missing user_id");

        var transferred = await ApiClient.ExpectAsync(await hostClient.PostAsync($"/rooms/{roomId}/transfer-host", new { user_id = guest.UserId }), HttpStatusCode.OK);
        Assert.Equal(guest.UserId, transferred.GetProperty("host_user_id").GetGuid());

        var detail = await ApiClient.ExpectAsync(await guestClient.GetAsync($"/rooms/{roomId}"), HttpStatusCode.OK);
        Assert.Equal("host", detail.GetProperty("role").GetString());
        Assert.Equal(guest.UserId, detail.GetProperty("host_user_id").GetGuid());
        Assert.Equal("guest", detail.GetProperty("members").EnumerateArray().Single(m => m.GetProperty("user_id").GetGuid() == host.UserId).GetProperty("role").GetString());

        // The former host is a guest now.
        await ApiClient.ExpectProblemAsync(await hostClient.PostAsync($"/rooms/{roomId}/end", null), HttpStatusCode.Forbidden, "Host only");
        await ApiClient.ExpectProblemAsync(await hostClient.PostAsync($"/rooms/{roomId}/invites", new { }), HttpStatusCode.Forbidden, "Host only");
        await ApiClient.ExpectAsync(await guestClient.PostAsync($"/rooms/{roomId}/invites", new { }), HttpStatusCode.Created);

        await events.WaitForAsync(e => e.Any(x => x.GetProperty("type").GetString() == "host_transferred"));
        var evt = events.Events.Single(x => x.GetProperty("type").GetString() == "host_transferred");
        Assert.Equal(guest.UserId, evt.GetProperty("user_id").GetGuid());
        Assert.Equal(host.UserId, evt.GetProperty("by_user_id").GetGuid());
    }

    [Fact]
    public async Task A_removed_member_loses_access_at_once_and_their_old_invite_cannot_bring_them_back()
    {
        var (host, roomId) = await CreateRoomAsync("removal");
        await using var events = await EventLog.SubscribeAsync(cluster, roomId);
        using var hostClient = cluster.ClientA(host.AccessToken);
        var invite = await InviteAsync(hostClient, roomId);
        var guest = await JoinAsync(invite);
        var leaver = await JoinAsync(invite);
        using var guestClient = cluster.ClientB(guest.AccessToken);
        await ApiClient.ExpectAsync(await guestClient.GetAsync($"/rooms/{roomId}"), HttpStatusCode.OK);

        // Guests cannot remove others; the host cannot leave without handing over.
        using (var leaverClient = cluster.ClientB(leaver.AccessToken))
        {
            await ApiClient.ExpectProblemAsync(await leaverClient.DeleteAsync($"/rooms/{roomId}/members/{guest.UserId}"), HttpStatusCode.Forbidden, "Host only");
            await ApiClient.ExpectAsync(await leaverClient.DeleteAsync($"/rooms/{roomId}/members/{leaver.UserId}"), HttpStatusCode.NoContent);
            await ApiClient.ExpectProblemAsync(await leaverClient.GetAsync($"/rooms/{roomId}"), HttpStatusCode.Forbidden, "Not a member of this room");
        }
        await ApiClient.ExpectProblemAsync(await hostClient.DeleteAsync($"/rooms/{roomId}/members/{host.UserId}"), HttpStatusCode.Conflict, "The host cannot leave");
        await ApiClient.ExpectProblemAsync(await hostClient.DeleteAsync($"/rooms/{roomId}/members/not-a-uuid"), HttpStatusCode.BadRequest, "Malformed user id");

        await ApiClient.ExpectAsync(await hostClient.DeleteAsync($"/rooms/{roomId}/members/{guest.UserId}"), HttpStatusCode.NoContent);
        // Immediately, on the other instance, with the same (still unexpired) access token.
        await ApiClient.ExpectProblemAsync(await guestClient.GetAsync($"/rooms/{roomId}"), HttpStatusCode.Forbidden, "Not a member of this room");
        await ApiClient.ExpectProblemAsync(await hostClient.DeleteAsync($"/rooms/{roomId}/members/{guest.UserId}"), HttpStatusCode.NotFound, "No such member");
        Assert.DoesNotContain(roomId, (await ApiClient.ExpectAsync(await guestClient.GetAsync("/rooms"), HttpStatusCode.OK))
            .GetProperty("rooms").EnumerateArray().Select(r => r.GetProperty("room_id").GetGuid()));

        // The invite they came in with predates the removal; a new one from the host lets them back.
        await ApiClient.ExpectProblemAsync(await guestClient.PostAsync("/rooms/join", new { token = invite }), HttpStatusCode.Forbidden, "Removed from this room");
        // The leaver left of their own accord and may come back with the same invite.
        await JoinAsync(invite, leaver);
        await JoinAsync(await InviteAsync(hostClient, roomId), guest);

        await events.WaitForAsync(e => e.Any(x => x.GetProperty("type").GetString() == "member_removed")
            && e.Any(x => x.GetProperty("type").GetString() == "member_left"));
        var removed = events.Events.Single(x => x.GetProperty("type").GetString() == "member_removed");
        Assert.Equal(guest.UserId, removed.GetProperty("user_id").GetGuid());
        Assert.Equal(host.UserId, removed.GetProperty("by_user_id").GetGuid());
        Assert.Equal(leaver.UserId, events.Events.Single(x => x.GetProperty("type").GetString() == "member_left").GetProperty("user_id").GetGuid());
    }

    [Fact]
    public async Task Ending_the_session_makes_the_room_read_only()
    {
        var (host, roomId) = await CreateRoomAsync("finale");
        await using var events = await EventLog.SubscribeAsync(cluster, roomId);
        using var hostClient = cluster.ClientA(host.AccessToken);
        var invite = await InviteAsync(hostClient, roomId);
        var guest = await JoinAsync(invite);
        using var guestClient = cluster.ClientB(guest.AccessToken);

        await ApiClient.ExpectProblemAsync(await guestClient.PostAsync($"/rooms/{roomId}/end", null), HttpStatusCode.Forbidden, "Host only");
        var ended = await ApiClient.ExpectAsync(await hostClient.PostAsync($"/rooms/{roomId}/end", null), HttpStatusCode.OK);
        var endedAt = ended.GetProperty("ended_at").GetDateTimeOffset();

        // Still readable by its members ...
        var detail = await ApiClient.ExpectAsync(await guestClient.GetAsync($"/rooms/{roomId}"), HttpStatusCode.OK);
        Assert.Equal(endedAt, detail.GetProperty("ended_at").GetDateTimeOffset());
        // ... and every write is refused.
        const string Ended = "The session has ended";
        await ApiClient.ExpectProblemAsync(await hostClient.PostAsync($"/rooms/{roomId}/invites", new { }), HttpStatusCode.Forbidden, Ended);
        await ApiClient.ExpectProblemAsync(await hostClient.PostAsync($"/rooms/{roomId}/transfer-host", new { user_id = guest.UserId }), HttpStatusCode.Forbidden, Ended);
        await ApiClient.ExpectProblemAsync(await hostClient.DeleteAsync($"/rooms/{roomId}/members/{guest.UserId}"), HttpStatusCode.Forbidden, Ended);
        await ApiClient.ExpectProblemAsync(await hostClient.PostAsync($"/rooms/{roomId}/end", null), HttpStatusCode.Forbidden, Ended);
        await ApiClient.ExpectProblemAsync(await JoinResponseAsync(invite), HttpStatusCode.Forbidden, Ended);

        await events.WaitForAsync(e => e.Any(x => x.GetProperty("type").GetString() == "room_ended"));
    }

    private async Task<(SignedIn Host, Guid RoomId)> CreateRoomAsync(string name)
    {
        using var anonymous = cluster.ClientA();
        var host = await anonymous.DevLoginAsync(ApiCluster.UniqueLogin(name));
        using var client = cluster.ClientA(host.AccessToken);
        var room = await ApiClient.ExpectAsync(await client.PostAsync("/rooms", new { name }), HttpStatusCode.Created);
        return (host, room.GetProperty("room_id").GetGuid());
    }

    private static async Task<string> InviteAsync(ApiClient host, Guid roomId) =>
        (await ApiClient.ExpectAsync(await host.PostAsync($"/rooms/{roomId}/invites", new { }), HttpStatusCode.Created)).GetProperty("token").GetString()!;

    /// <summary>A new user (or <paramref name="user"/>) joins through instance B.</summary>
    private async Task<SignedIn> JoinAsync(string invite, SignedIn? user = null)
    {
        using var anonymous = cluster.ClientB();
        user ??= await anonymous.DevLoginAsync(ApiCluster.UniqueLogin("guest"));
        using var client = cluster.ClientB(user.AccessToken);
        var joined = await ApiClient.ExpectAsync(await client.PostAsync("/rooms/join", new { token = invite }), HttpStatusCode.OK);
        Assert.Equal("guest", joined.GetProperty("role").GetString());
        return user;
    }

    private async Task<HttpResponseMessage> JoinResponseAsync(string invite)
    {
        using var anonymous = cluster.ClientB();
        var user = await anonymous.DevLoginAsync(ApiCluster.UniqueLogin("late"));
        using var client = cluster.ClientB(user.AccessToken);
        return await client.PostAsync("/rooms/join", new { token = invite });
    }
}

/// <summary>The JSON events published on a room's Redis channel, as the chat transports will receive them.</summary>
internal sealed class EventLog : IAsyncDisposable
{
    private readonly ConnectionMultiplexer _connection;
    private readonly ChannelMessageQueue _subscription;

    private EventLog(ConnectionMultiplexer connection, ChannelMessageQueue subscription, ConcurrentQueue<JsonElement> events)
    {
        _connection = connection;
        _subscription = subscription;
        Events = events;
    }

    public ConcurrentQueue<JsonElement> Events { get; }

    public static async Task<EventLog> SubscribeAsync(ApiCluster cluster, Guid roomId)
    {
        var events = new ConcurrentQueue<JsonElement>();
        var connection = await ConnectionMultiplexer.ConnectAsync(cluster.Redis.ConnectionString);
        // A queue, so the events are collected in the order Redis sent them.
        var subscription = await connection.GetSubscriber().SubscribeAsync(RedisChannel.Literal($"room:{roomId:D}:events"));
        subscription.OnMessage(message =>
        {
            using var document = JsonDocument.Parse((string)message.Message!);
            events.Enqueue(document.RootElement.Clone());
        });
        return new EventLog(connection, subscription, events);
    }

    public async Task WaitForAsync(Func<IReadOnlyCollection<JsonElement>, bool> condition)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (!condition(Events))
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"Expected events did not arrive; got: {string.Join(", ", Events.Select(e => e.GetRawText()))}");
            }
            await Task.Delay(50);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _subscription.UnsubscribeAsync();
        await _connection.DisposeAsync();
    }
}
