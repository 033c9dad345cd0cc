using System.Net;
using System.Text.Json;
using Conductor.Tests.Auth;
using Npgsql;

namespace Conductor.Tests.Rooms;

/// <summary>Rooms and membership over HTTP, against two real Api processes sharing Postgres and Redis.</summary>
[Collection(ApiClusterCollection.Name)]
public sealed class RoomsTests(ApiCluster cluster)
{
    [Fact]
    public async Task A_user_creates_a_room_and_sees_it_from_either_instance_while_others_do_not()
    {
        using var anonymous = cluster.ClientA();
        var host = await anonymous.DevLoginAsync(ApiCluster.UniqueLogin("host"));
        var other = await anonymous.DevLoginAsync(ApiCluster.UniqueLogin("other"));
        using var a = cluster.ClientA(host.AccessToken);
        using var b = cluster.ClientB(host.AccessToken);

        using var created = await a.PostAsync("/rooms", new { name = "  Release 2.0  " });
        var room = await ApiClient.ExpectAsync(created, HttpStatusCode.Created);
        var roomId = room.GetProperty("room_id").GetGuid();
        Assert.Equal("Release 2.0", room.GetProperty("name").GetString());
        Assert.Equal("host", room.GetProperty("role").GetString());
        Assert.True(room.TryGetProperty("created_at", out _));
        Assert.Equal($"/rooms/{roomId}", created.Headers.Location?.OriginalString);

        var detail = await ApiClient.ExpectAsync(await b.GetAsync($"/rooms/{roomId}"), HttpStatusCode.OK);
        Assert.Equal(host.UserId, detail.GetProperty("host_user_id").GetGuid());
        Assert.Equal("host", detail.GetProperty("role").GetString());
        Assert.Equal(JsonValueKind.Null, detail.GetProperty("ended_at").ValueKind);
        var member = Assert.Single(detail.GetProperty("members").EnumerateArray());
        Assert.Equal(host.UserId, member.GetProperty("user_id").GetGuid());
        Assert.Equal(host.Login, member.GetProperty("login").GetString());
        Assert.Equal("host", member.GetProperty("role").GetString());
        Assert.False(member.GetProperty("online").GetBoolean());

        var mine = await ApiClient.ExpectAsync(await b.GetAsync("/rooms"), HttpStatusCode.OK);
        Assert.Equal(roomId, Assert.Single(mine.GetProperty("rooms").EnumerateArray()).GetProperty("room_id").GetGuid());

        using var outsider = cluster.ClientB(other.AccessToken);
        Assert.Empty((await ApiClient.ExpectAsync(await outsider.GetAsync("/rooms"), HttpStatusCode.OK)).GetProperty("rooms").EnumerateArray());
        await ApiClient.ExpectProblemAsync(await outsider.GetAsync($"/rooms/{roomId}"), HttpStatusCode.Forbidden, "Not a member of this room");
        // A room that does not exist looks the same as one you may not see.
        await ApiClient.ExpectProblemAsync(await outsider.GetAsync($"/rooms/{Guid.NewGuid()}"), HttpStatusCode.Forbidden, "Not a member of this room");
        await ApiClient.ExpectProblemAsync(await outsider.GetAsync("/rooms/not-a-uuid"), HttpStatusCode.BadRequest, "Malformed room id");
    }

    [Theory]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData("tab\tinside")]
    [InlineData(null)]
    public async Task A_bad_room_name_is_a_400_problem_and_stores_nothing(string? name)
    {
        using var anonymous = cluster.ClientA();
        var user = await anonymous.DevLoginAsync(ApiCluster.UniqueLogin("namer"));
        using var a = cluster.ClientA(user.AccessToken);
        await ApiClient.ExpectProblemAsync(await a.PostAsync("/rooms", new { name }), HttpStatusCode.BadRequest, "Invalid room name");
        await ApiClient.ExpectProblemAsync(await a.PostAsync("/rooms", new { name = new string('x', 101) }), HttpStatusCode.BadRequest, "Invalid room name");

        await using var dataSource = NpgsqlDataSource.Create(cluster.ConnectionString);
        await using var count = dataSource.CreateCommand("SELECT count(*) FROM rooms WHERE host_user_id = $1");
        count.Parameters.AddWithValue(user.UserId);
        Assert.Equal(0L, await count.ExecuteScalarAsync());
    }
}
