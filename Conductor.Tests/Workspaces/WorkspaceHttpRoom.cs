using System.Net;
using Conductor.Tests.Auth;
using Conductor.Tests.Infrastructure;

namespace Conductor.Tests.Workspaces;

/// <summary>
/// The setting of the workspace HTTP tests: a real GitWorker and Api process over the test servers, a remote over
/// smart HTTP with basic auth, and a room created through /rooms by alice (its host), with bob signed in but not a
/// member.
/// </summary>
internal sealed class WorkspaceHttpRoom : IAsyncDisposable
{
    private WorkspaceHttpRoom(WorkspaceTestEnvironment env, ServiceInstance api, Uri url, string remote, string aliceLogin, ApiClient alice, ApiClient bob, Guid roomId,
        string aliceToken, string bobToken, string bobLogin)
    {
        Url = url;
        AliceToken = aliceToken;
        BobToken = bobToken;
        BobLogin = bobLogin;
        Env = env;
        Api = api;
        Remote = remote;
        AliceLogin = aliceLogin;
        Alice = alice;
        Bob = bob;
        RoomId = roomId;
    }

    public WorkspaceTestEnvironment Env { get; }
    /// <summary>The Api's address (for sockets and streams).</summary>
    public Uri Url { get; }
    public ServiceInstance Api { get; }
    /// <summary>The bare repository behind the remote, for checking what was pushed with the git CLI.</summary>
    public string Remote { get; }
    public string AliceLogin { get; }
    public ApiClient Alice { get; }
    public ApiClient Bob { get; }
    public Guid RoomId { get; }
    /// <summary>The access tokens, for clients that take one another way (git's credential helper, the CLI).</summary>
    public string AliceToken { get; }
    public string BobToken { get; }
    public string BobLogin { get; }

    public static async Task<WorkspaceHttpRoom> StartAsync(PostgresServerFixture postgres, RedisServerFixture redis, string remoteName, string roomName,
        IReadOnlyDictionary<string, string>? apiSettings = null)
    {
        var env = await WorkspaceTestEnvironment.CreateAsync(postgres, redis);
        try
        {
            env.Jobs.Overrides["Auth:DevLogin"] = "true";
            foreach (var (key, value) in apiSettings ?? new Dictionary<string, string>())
            {
                env.Jobs.Overrides[key] = value;
            }
            await env.StartHostAsync();
            var remote = env.CreateRemote(remoteName);
            await env.StartWorkerAsync();
            var api = ServiceInstance.Start("Conductor.Api", env.Jobs.ProcessEnvironment());
            try
            {
                var url = await api.WaitUntilListeningAsync(TimeSpan.FromSeconds(60));
                var alice = new ApiClient(url);
                var aliceLogin = ApiCluster.UniqueLogin("alice");
                var aliceToken = (await alice.DevLoginAsync(aliceLogin)).AccessToken;
                alice.Authorize(aliceToken);
                var roomId = (await ApiClient.ExpectAsync(await alice.PostAsync("/rooms", new { name = roomName }), HttpStatusCode.Created))
                    .GetProperty("room_id").GetGuid();
                var bob = new ApiClient(url);
                var bobLogin = ApiCluster.UniqueLogin("bob");
                var bobToken = (await bob.DevLoginAsync(bobLogin)).AccessToken;
                bob.Authorize(bobToken);
                return new WorkspaceHttpRoom(env, api, url, remote, aliceLogin, alice, bob, roomId, aliceToken, bobToken, bobLogin);
            }
            catch
            {
                await api.DisposeAsync();
                throw;
            }
        }
        catch
        {
            await env.DisposeAsync();
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        Alice.Dispose();
        Bob.Dispose();
        await Api.DisposeAsync();
        await Env.DisposeAsync();
    }
}
