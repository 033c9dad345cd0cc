using System.Net;
using Conductor.Tests.Auth;
using Conductor.Tests.Infrastructure;

namespace Conductor.Tests.Ai;

/// <summary>
/// One real Api process over real Postgres and Redis, with two AI providers (<c>openai</c>, <c>claude</c>) pointed at
/// fake OpenAI and Anthropic servers on 127.0.0.1, a fast provider probe and a workspace root of its own. The shared
/// setup of <see cref="ConductorApiFixture"/> and <c>ConversationCluster</c>; each adds its own settings through
/// <see cref="Settings"/>.
/// </summary>
public abstract class FakeAiApiFixture(string database, string workspaceFolder) : IAsyncLifetime
{
    /// <summary>The providers' key: the tests check it never shows in an answer or the Api's output.</summary>
    public const string ApiKey = "sk-fixture-secret-0123456789";

    public PostgresServerFixture Postgres { get; } = new();
    public RedisServerFixture Redis { get; } = new();
    public FakeAiServer OpenAI { get; private set; } = null!;
    public FakeAiServer Anthropic { get; private set; } = null!;
    public string WorkspaceRoot { get; } = TestDirectories.Create(workspaceFolder);
    public string ConnectionString { get; private set; } = "";
    public ServiceInstance Api { get; private set; } = null!;
    public Uri Url { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        await Task.WhenAll(Postgres.InitializeAsync(), Redis.InitializeAsync());
        OpenAI = await FakeAiServer.StartAsync(FakeAiKind.OpenAI);
        Anthropic = await FakeAiServer.StartAsync(FakeAiKind.Anthropic);
        ConnectionString = await Postgres.CreateDatabaseAsync(database);
        await StartApiAsync();
    }

    /// <summary>What this fixture's Api is configured with beyond the shared settings (they may override them).</summary>
    protected abstract IEnumerable<KeyValuePair<string, string?>> Settings();

    private Dictionary<string, string?> Environment()
    {
        var environment = new Dictionary<string, string?>
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
            ["Ai__DefaultProvider"] = "mock",
            ["Workspaces__Root"] = WorkspaceRoot,
        };
        foreach (var (key, value) in Settings())
        {
            environment[key] = value;
        }
        return environment;
    }

    /// <summary>Starts the Api (again, after a crash) over the same database and Redis.</summary>
    protected async Task StartApiAsync() =>
        (Api, Url) = await ServiceInstance.StartListeningAsync("Conductor.Api", Environment(), ApiCluster.StartTimeout);

    /// <summary>Another Api over the same database and Redis (the test disposes it).</summary>
    public Task<(ServiceInstance Instance, Uri Url)> StartAnotherApiAsync() =>
        ServiceInstance.StartListeningAsync("Conductor.Api", Environment(), ApiCluster.StartTimeout);

    public ApiClient Client(string? accessToken = null) => new(Url, accessToken);

    public async Task<SignedIn> SignInAsync(string name)
    {
        using var anonymous = Client();
        return await anonymous.DevLoginAsync(ApiCluster.UniqueLogin(name));
    }

    /// <summary>A signed-in user with a new room of their own.</summary>
    protected async Task<(ApiClient Client, SignedIn User, Guid RoomId)> CreateHostWithRoomAsync(string name, string roomName)
    {
        var user = await SignInAsync(name);
        var client = Client(user.AccessToken);
        var room = await ApiClient.ExpectAsync(await client.PostAsync("/rooms", new { name = roomName }), HttpStatusCode.Created);
        return (client, user, room.GetProperty("room_id").GetGuid());
    }

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
