using Conductor.Tests.Auth;
using Conductor.Tests.Infrastructure;

namespace Conductor.Tests.Ai;

/// <summary>
/// The shared Api with fake AI providers (<see cref="FakeAiApiFixture"/>) plus a provider that is configured but down,
/// a workspace root of plain per-room folders, and no background sweep of the search index. Shared by the files, AI,
/// changes and audit tests; each test signs in its own users and makes its own rooms.
/// </summary>
public sealed class ConductorApiFixture() : FakeAiApiFixture("aichanges", "workspaces")
{
    protected override IEnumerable<KeyValuePair<string, string?>> Settings() => new Dictionary<string, string?>
    {
        // Nothing listens on port 1: a provider that is configured but down.
        ["Ai__Providers__offline__Kind"] = "openai",
        ["Ai__Providers__offline__Endpoint"] = "http://127.0.0.1:1/v1",
        ["Ai__Providers__offline__Model"] = "none",
        // No background sweep of the search index during a test: an edit behind the Api's back stays unseen.
        ["Workspaces__SearchIndexMaxStaleness"] = "01:00:00",
    };

    /// <summary>
    /// An HttpClient for streaming responses (read as they come, not buffered) that hangs up the way a browser closing
    /// a stream does: at once. HttpClient's default would first drain the response for up to 2 s.
    /// </summary>
    public HttpClient Http(string accessToken) => new(new SocketsHttpHandler { MaxResponseDrainSize = 0, ResponseDrainTimeout = TimeSpan.Zero })
    {
        BaseAddress = Url,
        Timeout = TimeSpan.FromSeconds(60),
        DefaultRequestHeaders = { Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", accessToken) },
    };

    /// <summary>A signed-in user with a room of their own (host), and its workspace folder.</summary>
    public async Task<(ApiClient Client, SignedIn User, Guid RoomId)> HostWithRoomAsync(string name = "host")
    {
        var (client, user, roomId) = await CreateHostWithRoomAsync(name, "ai room");
        await SeedReadyWorkspaceAsync(roomId, user.UserId);
        return (client, user, roomId);
    }

    /// <summary>Signs in another user and joins them to the room as a guest.</summary>
    public async Task<(ApiClient Client, SignedIn User)> GuestAsync(ApiClient host, Guid roomId, string name = "guest")
    {
        var user = await SignInAsync(name);
        var invite = await ApiClient.ExpectAsync(await host.PostAsync($"/rooms/{roomId}/invites", new { }), System.Net.HttpStatusCode.Created);
        var client = Client(user.AccessToken);
        var joined = await client.PostAsync("/rooms/join", new { token = invite.GetProperty("token").GetString() });
        Assert.True(joined.IsSuccessStatusCode, await joined.Content.ReadAsStringAsync());
        return (client, user);
    }

    /// <summary>A signed-in user who belongs to no room.</summary>
    public async Task<ApiClient> OutsiderAsync()
    {
        var user = await SignInAsync("outsider");
        return Client(user.AccessToken);
    }

    private Task SeedReadyWorkspaceAsync(Guid roomId, Guid userId) => SeedReadyWorkspaceAsync(ConnectionString, WorkspacePath(roomId), roomId, userId);

    /// <summary>
    /// A ready workspace for the room as the workspace feature records it, over a plain folder: cloning a repository
    /// (the GitWorker's job, tested with the workspaces) is not what these tests are about; reading and writing
    /// through the workspace file service is.
    /// </summary>
    public static async Task SeedReadyWorkspaceAsync(string connectionString, string worktree, Guid roomId, Guid userId)
    {
        Directory.CreateDirectory(worktree);
        await using var dataSource = Npgsql.NpgsqlDataSource.Create(connectionString);
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
}

[CollectionDefinition(Name)]
public sealed class ConductorApiCollection : ICollectionFixture<ConductorApiFixture>
{
    public const string Name = "conductor-api-ai";
}
