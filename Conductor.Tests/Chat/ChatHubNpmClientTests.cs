using System.Text.Json;
using Conductor.Tests.Infrastructure;

namespace Conductor.Tests.Chat;

/// <summary>
/// The hub as the web app and the VS Code extension use it: the npm <c>@microsoft/signalr</c> client (run by node)
/// against two Api instances, with a token from accessTokenFactory.
/// </summary>
[Collection(InfrastructureCollection.Name)]
public sealed class ChatHubNpmClientTests(PostgresServerFixture postgres, RedisServerFixture redis)
{
    private static readonly NodeProject Client = new(
        Path.Combine(RepositoryPaths.Root, "Conductor.Tests", "Chat", "signalr-client"), Path.Combine("@microsoft", "signalr", "package.json"));

    [Fact]
    public async Task The_npm_signalr_client_joins_sends_receives_and_is_refused_where_it_should_be()
    {
        await Client.EnsureInstalledAsync();
        await using var cluster = await ChatCluster.StartAsync(postgres, redis);
        var alice = await cluster.CreateUserAsync("alice");
        var bob = await cluster.CreateUserAsync("bob");
        var mallory = await cluster.CreateUserAsync("mallory");
        var roomId = await cluster.CreateRoomAsync(alice, bob);
        var input = JsonSerializer.Serialize(new
        {
            urls = cluster.Urls.Select(u => u.ToString().TrimEnd('/')),
            room_id = roomId,
            tokens = new { alice = alice.Token, bob = bob.Token, mallory = mallory.Token },
        });

        var (exitCode, output, errors) = await Client.RunAsync("node", ["client.mjs", input], TimeSpan.FromSeconds(60));
        Assert.True(exitCode == 0, $"node exited with {exitCode}:\n{output}\n{errors}");
        var result = JsonDocument.Parse(output.Trim().Split('\n')[^1]).RootElement;

        Assert.Equal("WebSocketTransport", result.GetProperty("transport").GetString());
        Assert.Equal(roomId, result.GetProperty("join").GetProperty("room_id").GetGuid());
        Assert.Equal(["alice", "bob"], result.GetProperty("join").GetProperty("online").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal(bob.Id, result.GetProperty("user_joined").GetProperty("user_id").GetGuid());

        var sent = result.GetProperty("sent");
        Assert.Equal("chat", sent.GetProperty("type").GetString());
        Assert.Equal("hello from node", sent.GetProperty("content").GetString());
        Assert.Equal(alice.Id, sent.GetProperty("user_id").GetGuid());
        Assert.Equal("alice", sent.GetProperty("login").GetString());
        Assert.True(result.GetProperty("resent_same").GetBoolean());
        Assert.Equal(sent.GetProperty("id").GetGuid(), result.GetProperty("bob_received").GetProperty("id").GetGuid());

        Assert.Equal(bob.Id, result.GetProperty("typing").GetProperty("user_id").GetGuid());
        Assert.Equal(bob.Id, result.GetProperty("read_receipt").GetProperty("user_id").GetGuid());
        Assert.Equal(sent.GetProperty("id").GetGuid(), result.GetProperty("read_receipt").GetProperty("message_id").GetGuid());
        Assert.Equal(["hello from node"], result.GetProperty("history").EnumerateArray().Select(e => e.GetString()));

        Assert.Contains("not_in_room", result.GetProperty("outsider_join_error").GetString(), StringComparison.Ordinal);
        Assert.Contains("not_in_room", result.GetProperty("outsider_send_error").GetString(), StringComparison.Ordinal);
        Assert.Contains("message_too_large", result.GetProperty("too_large_error").GetString(), StringComparison.Ordinal);
        Assert.Equal(bob.Id, result.GetProperty("user_left").GetProperty("user_id").GetGuid());
    }
}
