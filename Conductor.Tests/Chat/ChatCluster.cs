using System.Collections.Concurrent;
using System.Net.Http.Headers;
using System.Security.Claims;
using System.Text;
using System.Text.Encodings.Web;
using Conductor.Api.Auth;
using Conductor.Api.Chat;
using Conductor.Api.Rooms;
using Conductor.Tests.Infrastructure;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Conductor.Tests.Chat;

public sealed record ChatUser(Guid Id, string Login, string Token);

/// <summary>
/// Several Api instances on Kestrel (real sockets on 127.0.0.1), each with its own DI container, Redis connections and
/// fan-out, sharing one real Postgres database and one real Redis. Until the identity work is on this branch, tokens
/// and memberships come from test doubles registered here only (never in production code): a bearer token
/// "test.{user id}.{login}" and an in-memory <see cref="IRoomMembership"/> shared by the instances.
/// </summary>
public sealed class ChatCluster : IAsyncDisposable
{
    private readonly List<ChatApiFactory> _instances = [];

    private ChatCluster(string databaseConnectionString, RedisServerFixture redis)
    {
        DatabaseConnectionString = databaseConnectionString;
        Redis = redis;
    }

    public string DatabaseConnectionString { get; }
    public RedisServerFixture Redis { get; }
    public TestRoomMembership Rooms { get; } = new();
    public IReadOnlyList<Uri> Urls => [.. _instances.Select(i => i.Url)];

    public IServiceProvider Services(int instance) => _instances[instance].Services;

    public static async Task<ChatCluster> StartAsync(PostgresServerFixture postgres, RedisServerFixture redis, int instances = 2,
        IReadOnlyDictionary<string, string?>? settings = null)
    {
        var cluster = new ChatCluster(await postgres.CreateDatabaseAsync("chat"), redis);
        try
        {
            for (var i = 0; i < instances; i++)
            {
                var factory = new ChatApiFactory(cluster, settings ?? new Dictionary<string, string?>());
                cluster._instances.Add(factory);
                factory.Start();
            }
            return cluster;
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
    }

    public Task<ChatUser> CreateUserAsync(string login)
    {
        var id = Guid.NewGuid();
        return Task.FromResult(new ChatUser(id, login, $"test.{id:N}.{login}"));
    }

    public Task<Guid> CreateRoomAsync(ChatUser host, params ChatUser[] guests)
    {
        var roomId = Guid.NewGuid();
        Rooms.Set(roomId, host.Id, RoomRole.Host);
        foreach (var guest in guests)
        {
            Rooms.Set(roomId, guest.Id, RoomRole.Guest);
        }
        return Task.FromResult(roomId);
    }

    /// <summary>Removes a member the way the identity feature does: membership gone, then member_removed on the room's events channel.</summary>
    public async Task RemoveMemberAsync(Guid roomId, ChatUser user)
    {
        Rooms.Remove(roomId, user.Id);
        var redis = _instances[0].Services.GetRequiredService<Conductor.Redis.IRedisClient>();
        await redis.PublishAsync(ChatChannels.Events(roomId),
            $$"""{"type":"member_removed","room_id":"{{roomId:D}}","user_id":"{{user.Id:D}}"}""");
    }

    public Task EndRoomAsync(Guid roomId)
    {
        Rooms.End(roomId);
        return Task.CompletedTask;
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

    public Uri SocketUrl(int instance, Guid roomId, ChatUser? user)
    {
        var builder = new UriBuilder(_instances[instance].Url) { Scheme = "ws", Path = $"/ws/{roomId:D}" };
        if (user is not null)
        {
            builder.Query = $"access_token={Uri.EscapeDataString(user.Token)}";
        }
        return builder.Uri;
    }

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

    public async ValueTask DisposeAsync()
    {
        foreach (var instance in _instances)
        {
            await instance.DisposeAsync();
        }
    }

    private sealed class ChatApiFactory(ChatCluster cluster, IReadOnlyDictionary<string, string?> settings) : WebApplicationFactory<ChatHub>
    {
        public Uri Url { get; private set; } = null!;

        public void Start()
        {
            UseKestrel(0);
            StartServer();
            var addresses = Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses;
            Url = new Uri(addresses.First().Replace("localhost", "127.0.0.1", StringComparison.Ordinal).Replace("[::]", "127.0.0.1", StringComparison.Ordinal));
        }

        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            builder.UseEnvironment("Development");
            builder.UseSetting("urls", "http://127.0.0.1:0");
            builder.UseSetting("ConnectionStrings:conductordb", cluster.DatabaseConnectionString);
            builder.UseSetting("ConnectionStrings:redis", cluster.Redis.ConnectionString);
            foreach (var (name, value) in settings)
            {
                builder.UseSetting(name, value);
            }
            builder.ConfigureLogging(logging => logging.SetMinimumLevel(LogLevel.Warning));
            builder.ConfigureTestServices(services =>
            {
                services.AddAuthentication(TestAuthHandler.SchemeName)
                    .AddScheme<AuthenticationSchemeOptions, TestAuthHandler>(TestAuthHandler.SchemeName, _ => { });
                services.RemoveAll<IRoomMembership>();
                services.AddSingleton<IRoomMembership>(cluster.Rooms);
            });
        }
    }
}

/// <summary>A test-only room membership table, shared by every instance of a <see cref="ChatCluster"/>.</summary>
public sealed class TestRoomMembership : IRoomMembership
{
    private readonly ConcurrentDictionary<(Guid Room, Guid User), RoomRole> _members = new();
    private readonly ConcurrentDictionary<Guid, bool> _ended = new();

    public void Set(Guid roomId, Guid userId, RoomRole role) => _members[(roomId, userId)] = role;

    public void Remove(Guid roomId, Guid userId) => _members.TryRemove((roomId, userId), out _);

    public void End(Guid roomId) => _ended[roomId] = true;

    public Task<RoomRole?> GetRoleAsync(Guid roomId, Guid userId, CancellationToken cancellationToken) =>
        Task.FromResult(_members.TryGetValue((roomId, userId), out var role) ? role : (RoomRole?)null);

    public Task<bool> IsEndedAsync(Guid roomId, CancellationToken cancellationToken) => Task.FromResult(_ended.ContainsKey(roomId));
}

/// <summary>Test-only bearer tokens "test.{user id}.{login}", from the Authorization header or (sockets, hubs) access_token.</summary>
public sealed class TestAuthHandler(IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string SchemeName = "Test";

    protected override Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        string? token = Request.Query["access_token"];
        var header = Request.Headers.Authorization.ToString();
        if (header.StartsWith("Bearer ", StringComparison.Ordinal))
        {
            token = header["Bearer ".Length..];
        }
        if (string.IsNullOrEmpty(token))
        {
            return Task.FromResult(AuthenticateResult.NoResult());
        }
        var parts = token.Split('.', 3);
        if (parts.Length != 3 || parts[0] != "test" || !Guid.TryParseExact(parts[1], "N", out var userId))
        {
            return Task.FromResult(AuthenticateResult.Fail("Bad test token."));
        }
        var identity = new ClaimsIdentity([new Claim(UserClaims.UserId, userId.ToString("D")), new Claim(UserClaims.Login, parts[2])], SchemeName);
        return Task.FromResult(AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), SchemeName)));
    }

    protected override Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        Response.StatusCode = 401;
        return Task.CompletedTask;
    }
}
