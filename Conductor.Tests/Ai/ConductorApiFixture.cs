using Conductor.Tests.Auth;
using Conductor.Tests.Infrastructure;

namespace Conductor.Tests.Ai;

/// <summary>
/// One real Api process over real Postgres and Redis, with two AI providers pointed at fake OpenAI and Anthropic
/// servers on 127.0.0.1, a workspace root of plain per-room folders, and a fast probe. Shared by the files, AI,
/// changes and audit tests; each test signs in its own users and makes its own rooms.
/// </summary>
public sealed class ConductorApiFixture : IAsyncLifetime
{
    public const string ApiKey = "sk-fixture-secret-0123456789";

    public PostgresServerFixture Postgres { get; } = new();
    public RedisServerFixture Redis { get; } = new();
    public FakeAiServer OpenAI { get; private set; } = null!;
    public FakeAiServer Anthropic { get; private set; } = null!;
    public string WorkspaceRoot { get; } = TestDirectories.Create("workspaces");
    public string ConnectionString { get; private set; } = "";
    public ServiceInstance Api { get; private set; } = null!;
    public Uri Url { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        await Task.WhenAll(Postgres.InitializeAsync(), Redis.InitializeAsync());
        OpenAI = await FakeAiServer.StartAsync(FakeAiKind.OpenAI);
        Anthropic = await FakeAiServer.StartAsync(FakeAiKind.Anthropic);
        ConnectionString = await Postgres.CreateDatabaseAsync("aichanges");
        (Api, Url) = await ServiceInstance.StartListeningAsync("Conductor.Api", new Dictionary<string, string?>
        {
            ["ConnectionStrings__conductordb"] = ConnectionString,
            ["ConnectionStrings__redis"] = Redis.ConnectionString,
            ["Auth__DevLogin"] = "true",
            ["Auth__RateLimit__PermitLimit"] = "100000",
            ["Web__PublicUrl"] = "https://conductor.example",
            ["Ai__ProbeInterval"] = "00:00:00.300",
            ["Ai__Providers__openai__Kind"] = "openai",
            ["Ai__Providers__openai__Endpoint"] = OpenAI.Endpoint.AbsoluteUri,
            ["Ai__Providers__openai__ApiKey"] = ApiKey,
            ["Ai__Providers__openai__Model"] = "fake-model",
            ["Ai__Providers__claude__Kind"] = "anthropic",
            ["Ai__Providers__claude__Endpoint"] = Anthropic.Endpoint.AbsoluteUri,
            ["Ai__Providers__claude__ApiKey"] = ApiKey,
            ["Ai__Providers__claude__Model"] = "fake-claude",
            // Nothing listens on port 1: a provider that is configured but down.
            ["Ai__Providers__offline__Kind"] = "openai",
            ["Ai__Providers__offline__Endpoint"] = "http://127.0.0.1:1/v1",
            ["Ai__Providers__offline__Model"] = "none",
            ["Ai__DefaultProvider"] = "mock",
            ["Workspaces__Root"] = WorkspaceRoot,
        }, TimeSpan.FromSeconds(90));
    }

    public ApiClient Client(string? accessToken = null) => new(Url, accessToken);

    /// <summary>A plain HttpClient for streaming responses (read as they come, not buffered).</summary>
    public HttpClient Http(string accessToken) => new()
    {
        BaseAddress = Url,
        Timeout = TimeSpan.FromSeconds(60),
        DefaultRequestHeaders = { Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", accessToken) },
    };

    /// <summary>A signed-in user with a room of their own (host), and its workspace folder.</summary>
    public async Task<(ApiClient Client, SignedIn User, Guid RoomId)> HostWithRoomAsync(string name = "host")
    {
        using var anonymous = Client();
        var user = await anonymous.DevLoginAsync(ApiCluster.UniqueLogin(name));
        var client = Client(user.AccessToken);
        var room = await ApiClient.ExpectAsync(await client.PostAsync("/rooms", new { name = "ai room" }), System.Net.HttpStatusCode.Created);
        var roomId = room.GetProperty("room_id").GetGuid();
        await SeedReadyWorkspaceAsync(roomId, user.UserId);
        return (client, user, roomId);
    }

    /// <summary>Signs in another user and joins them to the room as a guest.</summary>
    public async Task<(ApiClient Client, SignedIn User)> GuestAsync(ApiClient host, Guid roomId, string name = "guest")
    {
        using var anonymous = Client();
        var user = await anonymous.DevLoginAsync(ApiCluster.UniqueLogin(name));
        var invite = await ApiClient.ExpectAsync(await host.PostAsync($"/rooms/{roomId}/invites", new { }), System.Net.HttpStatusCode.Created);
        var client = Client(user.AccessToken);
        var joined = await client.PostAsync("/rooms/join", new { token = invite.GetProperty("token").GetString() });
        Assert.True(joined.IsSuccessStatusCode, await joined.Content.ReadAsStringAsync());
        return (client, user);
    }

    /// <summary>A signed-in user who belongs to no room.</summary>
    public async Task<ApiClient> OutsiderAsync()
    {
        using var anonymous = Client();
        var user = await anonymous.DevLoginAsync(ApiCluster.UniqueLogin("outsider"));
        return Client(user.AccessToken);
    }

    /// <summary>
    /// A ready workspace for the room as the workspace feature records it, over a plain folder: cloning a repository
    /// (the GitWorker's job, tested with the workspaces) is not what these tests are about; reading and writing
    /// through the workspace file service is.
    /// </summary>
    private async Task SeedReadyWorkspaceAsync(Guid roomId, Guid userId)
    {
        Directory.CreateDirectory(WorkspacePath(roomId));
        await using var dataSource = Npgsql.NpgsqlDataSource.Create(ConnectionString);
        await using var batch = dataSource.CreateBatch();
        var store = $"store-{roomId:N}";
        batch.BatchCommands.Add(new Npgsql.NpgsqlBatchCommand("INSERT INTO workspace_stores (id, remote_url, created_at) VALUES ($1, 'file:///none', now())")
        { Parameters = { new() { Value = store } } });
        batch.BatchCommands.Add(new Npgsql.NpgsqlBatchCommand("""
            INSERT INTO workspaces (room_id, repo_url, store_id, base_branch, branch, status, created_by, created_at, updated_at)
            VALUES ($1, 'file:///none', $2, 'main', $3, 'ready', $4, now(), now())
            """) { Parameters = { new() { Value = roomId }, new() { Value = store }, new() { Value = $"session/{roomId}" }, new() { Value = userId } } });
        await batch.ExecuteNonQueryAsync();
    }

    public string WorkspacePath(Guid roomId) => Path.Combine(WorkspaceRoot, "worktrees", roomId.ToString("D"));

    public async Task DisposeAsync()
    {
        if (Api is not null)
        {
            await Api.DisposeAsync();
        }
        if (OpenAI is not null)
        {
            await OpenAI.DisposeAsync();
        }
        if (Anthropic is not null)
        {
            await Anthropic.DisposeAsync();
        }
        await Redis.DisposeAsync();
        await Postgres.DisposeAsync();
        TestDirectories.TryDelete(WorkspaceRoot);
    }
}

[CollectionDefinition(Name)]
public sealed class ConductorApiCollection : ICollectionFixture<ConductorApiFixture>
{
    public const string Name = "conductor-api-ai";
}
