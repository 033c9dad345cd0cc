using System.Net;
using Conductor.Tests.Ai;
using Conductor.Tests.Auth;
using Conductor.Tests.Infrastructure;

namespace Conductor.Tests.Conversations;

/// <summary>
/// One real Api process over real Postgres and Redis with fake OpenAI and Anthropic servers on 127.0.0.1, which the
/// tests may kill and start again over the same database (a restart in the middle of a conversation). Claims on
/// running conversations last 2 s here, so a killed instance's conversation is taken over soon after.
/// </summary>
public sealed class ConversationCluster : IAsyncLifetime
{
    public const string Name = "conversations";
    public const int StartLimit = 3;

    public PostgresServerFixture Postgres { get; } = new();
    public RedisServerFixture Redis { get; } = new();
    public FakeAiServer OpenAI { get; private set; } = null!;
    public FakeAiServer Anthropic { get; private set; } = null!;
    public string WorkspaceRoot { get; } = TestDirectories.Create("conversation-workspaces");
    public string ConnectionString { get; private set; } = "";
    public ServiceInstance Api { get; private set; } = null!;
    public Uri Url { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        await Task.WhenAll(Postgres.InitializeAsync(), Redis.InitializeAsync());
        OpenAI = await FakeAiServer.StartAsync(FakeAiKind.OpenAI);
        Anthropic = await FakeAiServer.StartAsync(FakeAiKind.Anthropic);
        ConnectionString = await Postgres.CreateDatabaseAsync("conversations");
        await StartApiAsync();
    }

    private Dictionary<string, string?> Environment() => new()
    {
        ["ConnectionStrings__conductordb"] = ConnectionString,
        ["ConnectionStrings__redis"] = Redis.ConnectionString,
        ["Auth__DevLogin"] = "true",
        ["Auth__RateLimit__PermitLimit"] = "100000",
        ["Web__PublicUrl"] = "https://conductor.example",
        ["Ai__ProbeInterval"] = "00:00:00.300",
        ["Ai__Providers__openai__Kind"] = "openai",
        ["Ai__Providers__openai__Endpoint"] = OpenAI.Endpoint.AbsoluteUri,
        ["Ai__Providers__openai__ApiKey"] = ConductorApiFixture.ApiKey,
        ["Ai__Providers__openai__Model"] = "fake-model",
        ["Ai__Providers__claude__Kind"] = "anthropic",
        ["Ai__Providers__claude__Endpoint"] = Anthropic.Endpoint.AbsoluteUri,
        ["Ai__Providers__claude__ApiKey"] = ConductorApiFixture.ApiKey,
        ["Ai__Providers__claude__Model"] = "fake-claude",
        ["Ai__DefaultProvider"] = "mock",
        ["Workspaces__Root"] = WorkspaceRoot,
        ["Conversations__StartLimit"] = StartLimit.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["Conversations__LeaseDuration"] = "00:00:02",
        ["Conversations__RecoveryInterval"] = "00:00:00.200",
        ["Conversations__PollInterval"] = "00:00:00.100",
    };

    private async Task StartApiAsync() =>
        (Api, Url) = await ServiceInstance.StartListeningAsync("Conductor.Api", Environment(), ApiCluster.StartTimeout);

    /// <summary>A second Api over the same database and Redis (the test disposes it).</summary>
    public Task<(ServiceInstance Instance, Uri Url)> StartAnotherApiAsync() =>
        ServiceInstance.StartListeningAsync("Conductor.Api", Environment(), ApiCluster.StartTimeout);

    /// <summary>SIGKILLs the Api (a crash: nothing is released) and starts a new process over the same database.</summary>
    public async Task CrashAndRestartApiAsync()
    {
        await Api.KillAsync();
        await Api.DisposeAsync();
        await StartApiAsync();
    }

    public ApiClient Client(string? accessToken = null) => new(Url, accessToken);

    /// <summary>A signed-in user with a room of their own.</summary>
    public async Task<(ApiClient Client, SignedIn User, Guid RoomId)> HostWithRoomAsync(string name = "host")
    {
        using var anonymous = Client();
        var user = await anonymous.DevLoginAsync(ApiCluster.UniqueLogin(name));
        var client = Client(user.AccessToken);
        var room = await ApiClient.ExpectAsync(await client.PostAsync("/rooms", new { name = "parley room" }), HttpStatusCode.Created);
        return (client, user, room.GetProperty("room_id").GetGuid());
    }

    public async Task<SignedIn> SignInAsync(string name)
    {
        using var anonymous = Client();
        return await anonymous.DevLoginAsync(ApiCluster.UniqueLogin(name));
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

[CollectionDefinition(ConversationCluster.Name)]
public sealed class ConversationCollection : ICollectionFixture<ConversationCluster>;
