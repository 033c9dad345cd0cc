using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Conductor.Tests.Infrastructure;

namespace Conductor.Tests.Chat;

public sealed record ChatUser(Guid Id, string Login, string Token);

/// <summary>
/// Several real Api processes (the built Conductor.Api, on 127.0.0.1) sharing one real Postgres database and one
/// real Redis, with dev login on: users, rooms and memberships are made through the Api itself, as clients do.
/// </summary>
public sealed class ChatCluster : IAsyncDisposable
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(90);
    private readonly List<(ServiceInstance Instance, Uri Url)> _instances = [];
    private readonly Dictionary<Guid, ChatUser> _hosts = [];

    private ChatCluster(string databaseConnectionString, RedisServerFixture redis)
    {
        DatabaseConnectionString = databaseConnectionString;
        Redis = redis;
    }

    public string DatabaseConnectionString { get; }
    public RedisServerFixture Redis { get; }
    public IReadOnlyList<Uri> Urls => [.. _instances.Select(i => i.Url)];
    public string Output(int instance) => _instances[instance].Instance.Output;

    /// <param name="settings">Extra configuration, as environment variables (<c>Chat__MessageBurst</c>).</param>
    public static async Task<ChatCluster> StartAsync(PostgresServerFixture postgres, RedisServerFixture redis, int instances = 2,
        IReadOnlyDictionary<string, string?>? settings = null)
    {
        var cluster = new ChatCluster(await postgres.CreateDatabaseAsync("chat"), redis);
        var environment = new Dictionary<string, string?>
        {
            ["ConnectionStrings__conductordb"] = cluster.DatabaseConnectionString,
            ["ConnectionStrings__redis"] = redis.ConnectionString,
            ["Auth__DevLogin"] = "true",
            ["Auth__RateLimit__PermitLimit"] = "100000",
            ["Web__PublicUrl"] = "https://conductor.example",
        };
        foreach (var (name, value) in settings ?? new Dictionary<string, string?>())
        {
            environment[name] = value;
        }
        try
        {
            for (var i = 0; i < instances; i++)
            {
                cluster._instances.Add(await ServiceInstance.StartListeningAsync("Conductor.Api", environment, StartTimeout));
            }
            return cluster;
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
    }

    /// <summary>Signs a user in through POST /auth/dev.</summary>
    public async Task<ChatUser> CreateUserAsync(string login)
    {
        using var http = Http(0, null);
        using var response = await http.PostAsJsonAsync("/auth/dev", new { login });
        var body = await ExpectAsync(response, HttpStatusCode.OK);
        return new ChatUser(body.GetProperty("user").GetProperty("id").GetGuid(), body.GetProperty("user").GetProperty("login").GetString()!,
            body.GetProperty("access_token").GetString()!);
    }

    /// <summary>POST /rooms as the host, then an invite per guest and POST /rooms/join as that guest.</summary>
    public async Task<Guid> CreateRoomAsync(ChatUser host, params ChatUser[] guests)
    {
        using var hostHttp = Http(0, host);
        using var created = await hostHttp.PostAsJsonAsync("/rooms", new { name = "chat test" });
        var roomId = (await ExpectAsync(created, HttpStatusCode.Created)).GetProperty("room_id").GetGuid();
        _hosts[roomId] = host;
        foreach (var guest in guests)
        {
            using var invite = await hostHttp.PostAsJsonAsync($"/rooms/{roomId}/invites", new { });
            var token = (await ExpectAsync(invite, HttpStatusCode.Created)).GetProperty("token").GetString();
            using var guestHttp = Http(1 % _instances.Count, guest);
            using var joined = await guestHttp.PostAsJsonAsync("/rooms/join", new { token });
            await ExpectAsync(joined, HttpStatusCode.OK);
        }
        return roomId;
    }

    /// <summary>The host removes the member (DELETE /rooms/{id}/members/{user}).</summary>
    public async Task RemoveMemberAsync(Guid roomId, ChatUser user)
    {
        using var http = Http(0, _hosts[roomId]);
        using var response = await http.DeleteAsync($"/rooms/{roomId}/members/{user.Id}");
        Assert.True(response.IsSuccessStatusCode, $"remove member: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
    }

    /// <summary>The host ends the session (POST /rooms/{id}/end).</summary>
    public async Task EndRoomAsync(Guid roomId)
    {
        using var http = Http(0, _hosts[roomId]);
        using var response = await http.PostAsJsonAsync($"/rooms/{roomId}/end", new { });
        Assert.True(response.IsSuccessStatusCode, $"end room: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
    }

    public HttpClient Http(int instance, ChatUser? user)
    {
        var http = new HttpClient { BaseAddress = _instances[instance].Url, Timeout = TimeSpan.FromSeconds(30) };
        if (user is not null)
        {
            http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", user.Token);
        }
        return http;
    }

    public SocketEndpoint SocketUrl(int instance, Guid roomId, ChatUser? user) =>
        new(new UriBuilder(_instances[instance].Url) { Scheme = "ws", Path = $"/ws/{roomId:D}" }.Uri, user?.Token);

    /// <summary>Connects and waits for the welcome (presence) frame: from then on the socket receives the room's events.</summary>
    public async Task<ChatSocket> ConnectAsync(int instance, Guid roomId, ChatUser user, bool waitUntilJoined = true)
    {
        var socket = await ChatSocket.ConnectAsync(SocketUrl(instance, roomId, user));
        if (waitUntilJoined)
        {
            await socket.WaitForTypeAsync("presence");
        }
        return socket;
    }

    private static async Task<JsonElement> ExpectAsync(HttpResponseMessage response, HttpStatusCode status)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == status, $"{response.RequestMessage?.RequestUri?.PathAndQuery}: expected {(int)status}, got {(int)response.StatusCode}: {text}");
        return JsonDocument.Parse(text).RootElement.Clone();
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var (instance, _) in _instances)
        {
            await instance.DisposeAsync();
        }
    }
}
