using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Conductor.Tests.Infrastructure;

namespace Conductor.Tests.Auth;

/// <summary>
/// Two real Api processes sharing one real Postgres database and one real Redis, with dev login on and GitHub
/// pointed at a fake GitHub on 127.0.0.1: what a deployment with two replicas looks like. Shared by the auth and
/// rooms tests; each test signs in its own users (unique logins), so tests do not see each other's data.
/// </summary>
public sealed class ApiCluster : IAsyncLifetime
{
    public static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(90);

    public PostgresServerFixture Postgres { get; } = new();
    public RedisServerFixture Redis { get; } = new();
    public FakeGitHub GitHub { get; private set; } = null!;
    public string ConnectionString { get; private set; } = "";
    public ServiceInstance InstanceA { get; private set; } = null!;
    public ServiceInstance InstanceB { get; private set; } = null!;
    public Uri UrlA { get; private set; } = null!;
    public Uri UrlB { get; private set; } = null!;

    /// <summary>How long after a refresh token's first use a client may present it again (a retry after a lost answer).</summary>
    public static readonly TimeSpan RefreshRetryWindow = TimeSpan.FromSeconds(4);

    /// <summary>The environment every instance gets; tests start extra instances with changes to it.</summary>
    public Dictionary<string, string?> Environment(bool devLogin = true) => new()
    {
        ["ConnectionStrings__conductordb"] = ConnectionString,
        ["ConnectionStrings__redis"] = Redis.ConnectionString,
        ["Auth__DevLogin"] = devLogin ? "true" : null,
        ["Auth__GitHub__ClientId"] = FakeGitHub.ClientId,
        ["Auth__GitHub__BaseUrl"] = GitHub.BaseUrl.AbsoluteUri,
        ["Auth__GitHub__ApiUrl"] = GitHub.ApiUrl.AbsoluteUri,
        // Every test signs in from 127.0.0.1; the rate-limit test starts its own instance with a low limit.
        ["Auth__RateLimit__PermitLimit"] = "100000",
        // Short, so a test can see a retry refused once the window has passed (AuthTests); the default is 60 s.
        ["Auth__RefreshRetryWindow"] = RefreshRetryWindow.ToString("c", System.Globalization.CultureInfo.InvariantCulture),
        ["Web__PublicUrl"] = "https://conductor.example",
    };

    public async Task InitializeAsync()
    {
        await Task.WhenAll(Postgres.InitializeAsync(), Redis.InitializeAsync());
        GitHub = await FakeGitHub.StartAsync();
        ConnectionString = await Postgres.CreateDatabaseAsync("identity");
        // One after the other: the second start also proves an instance joins an existing key ring.
        (InstanceA, UrlA) = await ServiceInstance.StartListeningAsync("Conductor.Api", Environment(), StartTimeout);
        (InstanceB, UrlB) = await ServiceInstance.StartListeningAsync("Conductor.Api", Environment(), StartTimeout);
    }

    public async Task DisposeAsync()
    {
        if (InstanceA is not null)
        {
            await InstanceA.DisposeAsync();
        }
        if (InstanceB is not null)
        {
            await InstanceB.DisposeAsync();
        }
        if (GitHub is not null)
        {
            await GitHub.DisposeAsync();
        }
        await Redis.DisposeAsync();
        await Postgres.DisposeAsync();
    }

    public ApiClient ClientA(string? accessToken = null) => new(UrlA, accessToken);

    public ApiClient ClientB(string? accessToken = null) => new(UrlB, accessToken);

    /// <summary>Both instances' console output, for assertions that nothing secret was logged.</summary>
    public string Output => InstanceA.Output + "\n" + InstanceB.Output;

    public static string UniqueLogin(string name) => $"{name}-{Guid.NewGuid():N}"[..30];
}

[CollectionDefinition(Name)]
public sealed class ApiClusterCollection : ICollectionFixture<ApiCluster>
{
    public const string Name = "api-cluster";
}

/// <summary>The tokens a sign-in returned.</summary>
public sealed record SignedIn(string AccessToken, string RefreshToken, Guid UserId, string Login, int ExpiresIn)
{
    public static SignedIn From(JsonElement body) => new(
        body.GetProperty("access_token").GetString()!,
        body.GetProperty("refresh_token").GetString()!,
        body.GetProperty("user").GetProperty("id").GetGuid(),
        body.GetProperty("user").GetProperty("login").GetString()!,
        body.GetProperty("expires_in").GetInt32());
}

/// <summary>HTTP to one Api instance, optionally with a bearer token.</summary>
public sealed class ApiClient : IDisposable
{
    private readonly HttpClient _http;

    public ApiClient(Uri baseAddress, string? accessToken = null)
    {
        _http = new HttpClient { BaseAddress = baseAddress, Timeout = TimeSpan.FromSeconds(30) };
        if (accessToken is not null)
        {
            _http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", accessToken);
        }
    }

    public Uri BaseAddress => _http.BaseAddress!;

    /// <summary>The bearer token sent, for sockets and streams that carry it themselves.</summary>
    public string? AccessToken => _http.DefaultRequestHeaders.Authorization?.Parameter;

    /// <summary>Sends <paramref name="accessToken"/> as the bearer token from now on.</summary>
    public void Authorize(string accessToken) =>
        _http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", accessToken);

    public Task<HttpResponseMessage> GetAsync(string path) => _http.GetAsync(path);

    public Task<HttpResponseMessage> PostAsync(string path, object? body) => _http.PostAsJsonAsync(path, body);

    public Task<HttpResponseMessage> DeleteAsync(string path) => _http.DeleteAsync(path);

    public Task<HttpResponseMessage> SendAsync(HttpRequestMessage request) => _http.SendAsync(request);

    public async Task<SignedIn> DevLoginAsync(string login)
    {
        using var response = await PostAsync("/auth/dev", new { login });
        return SignedIn.From(await ExpectAsync(response, HttpStatusCode.OK));
    }

    /// <summary>Asserts the status and returns the JSON body (problem details for errors).</summary>
    public static async Task<JsonElement> ExpectAsync(HttpResponseMessage response, HttpStatusCode status)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == status,
            $"{response.RequestMessage?.Method} {response.RequestMessage?.RequestUri?.PathAndQuery}: expected {(int)status}, got {(int)response.StatusCode}: {text}");
        if (text.Length == 0)
        {
            return default;
        }
        return JsonDocument.Parse(text).RootElement.Clone();
    }

    /// <summary>Asserts an RFC 7807 problem with that status; returns it.</summary>
    public static async Task<JsonElement> ExpectProblemAsync(HttpResponseMessage response, HttpStatusCode status, string? title = null)
    {
        var problem = await ExpectAsync(response, status);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal((int)status, problem.GetProperty("status").GetInt32());
        if (title is not null)
        {
            Assert.Equal(title, problem.GetProperty("title").GetString());
        }
        return problem;
    }

    public void Dispose() => _http.Dispose();
}
