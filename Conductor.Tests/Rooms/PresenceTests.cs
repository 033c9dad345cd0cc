using System.Net;
using Conductor.Api.Rooms;
using Conductor.Tests.Auth;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Conductor.Tests.Rooms;

/// <summary>
/// Presence as the chat transports will drive it (<see cref="RedisPresence"/> in this process, on the cluster's real
/// Redis), read back through <c>GET /rooms/{id}</c> on an Api instance: one Redis, every instance agrees.
/// </summary>
[Collection(ApiClusterCollection.Name)]
public sealed class PresenceTests(ApiCluster cluster)
{
    [Fact]
    public async Task Members_are_online_per_connection_until_they_disconnect_or_stop_heart_beating()
    {
        using var anonymous = cluster.ClientA();
        var host = await anonymous.DevLoginAsync(ApiCluster.UniqueLogin("present"));
        var guest = await anonymous.DevLoginAsync(ApiCluster.UniqueLogin("fleeting"));
        using var hostClient = cluster.ClientA(host.AccessToken);
        var roomId = (await ApiClient.ExpectAsync(await hostClient.PostAsync("/rooms", new { name = "presence" }), HttpStatusCode.Created)).GetProperty("room_id").GetGuid();
        var invite = (await ApiClient.ExpectAsync(await hostClient.PostAsync($"/rooms/{roomId}/invites", new { }), HttpStatusCode.Created)).GetProperty("token").GetString()!;
        using (var guestClient = cluster.ClientB(guest.AccessToken))
        {
            await ApiClient.ExpectAsync(await guestClient.PostAsync("/rooms/join", new { token = invite }), HttpStatusCode.OK);
        }

        await using var redis = await StackExchange.Redis.ConnectionMultiplexer.ConnectAsync(cluster.Redis.ConnectionString);
        var steady = new RedisPresence(redis, Options.Create(new PresenceOptions { Ttl = TimeSpan.FromMinutes(1) }), TimeProvider.System);
        var brief = new RedisPresence(redis, Options.Create(new PresenceOptions { Ttl = TimeSpan.FromSeconds(1) }), TimeProvider.System);

        await steady.ConnectedAsync(roomId, host.UserId, "tab-1", CancellationToken.None);
        await steady.ConnectedAsync(roomId, host.UserId, "tab-2", CancellationToken.None);
        await brief.ConnectedAsync(roomId, guest.UserId, "vscode", CancellationToken.None);
        Assert.Equal(new HashSet<Guid> { host.UserId, guest.UserId }, await steady.GetOnlineAsync(roomId, CancellationToken.None));
        Assert.Equal(new Dictionary<Guid, bool> { [host.UserId] = true, [guest.UserId] = true }, await OnlineAsync(hostClient, roomId));

        // The guest's instance stops heart-beating: gone after the TTL, with nobody calling disconnect.
        await Task.Delay(TimeSpan.FromSeconds(1.5));
        Assert.Equal(new Dictionary<Guid, bool> { [host.UserId] = true, [guest.UserId] = false }, await OnlineAsync(hostClient, roomId));

        // One tab closes: still online through the other.
        await steady.DisconnectedAsync(roomId, host.UserId, "tab-1", CancellationToken.None);
        Assert.True((await OnlineAsync(hostClient, roomId))[host.UserId]);
        await steady.ForgetUserAsync(roomId, host.UserId, CancellationToken.None);
        Assert.False((await OnlineAsync(hostClient, roomId))[host.UserId]);

        // The key does not outlive a quiet room.
        await steady.ConnectedAsync(roomId, host.UserId, "tab-3", CancellationToken.None);
        Assert.InRange((await redis.GetDatabase().KeyTimeToLiveAsync(RedisPresence.KeyFor(roomId)))!.Value, TimeSpan.FromSeconds(60), TimeSpan.FromSeconds(120));
    }

    private static async Task<Dictionary<Guid, bool>> OnlineAsync(ApiClient client, Guid roomId) =>
        (await ApiClient.ExpectAsync(await client.GetAsync($"/rooms/{roomId}"), HttpStatusCode.OK)).GetProperty("members").EnumerateArray()
            .ToDictionary(m => m.GetProperty("user_id").GetGuid(), m => m.GetProperty("online").GetBoolean());
}
