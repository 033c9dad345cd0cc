using System.Collections.Concurrent;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Conductor.Tests.Auth;

/// <summary>
/// GitHub, as far as sign-in touches it, as a real HTTP server on 127.0.0.1: the device flow's two OAuth endpoints
/// and <c>GET /user</c>, answering in GitHub's documented formats (errors as 200 with <c>error</c>, as GitHub does).
/// The REST API lives under <c>/api/v3</c>, as on GitHub Enterprise, so base paths are exercised too.
/// </summary>
public sealed class FakeGitHub : IAsyncDisposable
{
    public const string ClientId = "Iv1.fakeclientid";
    private const string ErrorUri = "https://docs.github.com/developers/apps/authorizing-oauth-apps#error-codes-for-the-device-flow";

    private readonly WebApplication _app;
    private readonly ConcurrentDictionary<string, DeviceState> _devices = new();
    private readonly ConcurrentDictionary<string, (long Id, string Login)> _tokens = new();

    private FakeGitHub(WebApplication app, Uri url)
    {
        _app = app;
        BaseUrl = url;
    }

    public Uri BaseUrl { get; }
    public Uri ApiUrl => new(BaseUrl, "/api/v3");

    /// <summary>Every request as "METHOD path?query", plus the headers the assertions look at.</summary>
    public ConcurrentQueue<RecordedRequest> Requests { get; } = new();

    /// <summary>When set, every endpoint answers 500 (a GitHub outage).</summary>
    public bool Down { get; set; }

    public enum DeviceStatus { Pending, SlowDown, Expired, Denied, Approved }

    private sealed class DeviceState(string userCode)
    {
        public string UserCode { get; } = userCode;
        public DeviceStatus Status { get; set; }
        public string? AccessToken { get; set; }
    }

    public sealed record RecordedRequest(string Method, string PathAndQuery, string? Authorization, string? Accept, string? UserAgent, IReadOnlyDictionary<string, string> Form);

    /// <summary>A token GitHub accepts for this user.</summary>
    public void AddToken(string token, long id, string login) => _tokens[token] = (id, login);

    public void SetDevice(string deviceCode, DeviceStatus status, long userId = 0, string? login = null)
    {
        var device = _devices[deviceCode];
        device.Status = status;
        if (status == DeviceStatus.Approved)
        {
            device.AccessToken = "gho_" + Guid.NewGuid().ToString("N");
            AddToken(device.AccessToken, userId, login!);
        }
    }

    public string? IssuedToken(string deviceCode) => _devices[deviceCode].AccessToken;

    public static async Task<FakeGitHub> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        FakeGitHub? fake = null;
        app.Use(async (context, next) =>
        {
            var form = context.Request.HasFormContentType
                ? (await context.Request.ReadFormAsync()).ToDictionary(f => f.Key, f => f.Value.ToString())
                : new Dictionary<string, string>();
            fake!.Requests.Enqueue(new RecordedRequest(context.Request.Method, context.Request.Path + context.Request.QueryString,
                context.Request.Headers.Authorization.ToString() is { Length: > 0 } a ? a : null,
                context.Request.Headers.Accept.ToString(), context.Request.Headers.UserAgent.ToString(), form));
            if (fake.Down)
            {
                context.Response.StatusCode = 500;
                return;
            }
            await next(context);
        });
        app.MapPost("/login/device/code", (Func<HttpContext, Task<IResult>>)(context => fake!.DeviceCode(context)));
        app.MapPost("/login/oauth/access_token", (Func<HttpContext, Task<IResult>>)(context => fake!.AccessToken(context)));
        app.MapGet("/api/v3/user", (Func<HttpContext, IResult>)(context => fake!.User(context)));
        await app.StartAsync();
        var address = app.Urls.First();
        fake = new FakeGitHub(app, new Uri(address));
        return fake;
    }

    private async Task<IResult> DeviceCode(HttpContext context)
    {
        var form = await context.Request.ReadFormAsync();
        if (form["client_id"] != ClientId)
        {
            return Results.Json(new Dictionary<string, string> { ["error"] = "Not Found" }, statusCode: 404);
        }
        var deviceCode = Guid.NewGuid().ToString("N");
        var userCode = $"{Random.Shared.Next(1000, 9999)}-{Random.Shared.Next(1000, 9999)}";
        _devices[deviceCode] = new DeviceState(userCode);
        return Results.Json(new Dictionary<string, object>
        {
            ["device_code"] = deviceCode,
            ["user_code"] = userCode,
            ["verification_uri"] = new Uri(BaseUrl, "/login/device").AbsoluteUri,
            ["expires_in"] = 900,
            ["interval"] = 5,
        });
    }

    private async Task<IResult> AccessToken(HttpContext context)
    {
        if (!context.Request.Headers.Accept.ToString().Contains("application/json", StringComparison.Ordinal))
        {
            // GitHub answers form-encoded unless asked for JSON.
            return Results.Text("error=bad_verification_code", "application/x-www-form-urlencoded");
        }
        var form = await context.Request.ReadFormAsync();
        if (form["grant_type"] != "urn:ietf:params:oauth:grant-type:device_code" || form["client_id"] != ClientId)
        {
            return Error("unsupported_grant_type", "The grant type is not supported.");
        }
        if (!_devices.TryGetValue(form["device_code"].ToString(), out var device))
        {
            return Error("incorrect_device_code", "The device_code provided is not valid.");
        }
        return device.Status switch
        {
            DeviceStatus.Pending => Error("authorization_pending", "The authorization request is still pending."),
            DeviceStatus.SlowDown => Results.Json(new Dictionary<string, object>
            {
                ["error"] = "slow_down",
                ["error_description"] = "Too many requests have been made in the same timeframe.",
                ["error_uri"] = ErrorUri,
                ["interval"] = 10,
            }),
            DeviceStatus.Expired => Error("expired_token", "The device_code has expired."),
            DeviceStatus.Denied => Error("access_denied", "The authorization request was denied."),
            _ => Results.Json(new Dictionary<string, string>
            {
                ["access_token"] = device.AccessToken!,
                ["token_type"] = "bearer",
                ["scope"] = "repo,read:user",
            }),
        };
    }

    private IResult User(HttpContext context)
    {
        var authorization = context.Request.Headers.Authorization.ToString();
        if (!authorization.StartsWith("Bearer ", StringComparison.Ordinal) || !_tokens.TryGetValue(authorization["Bearer ".Length..], out var user))
        {
            return Results.Json(new Dictionary<string, string>
            {
                ["message"] = "Bad credentials",
                ["documentation_url"] = "https://docs.github.com/rest",
            }, statusCode: 401);
        }
        context.Response.Headers["X-OAuth-Scopes"] = "repo, read:user";
        return Results.Json(new Dictionary<string, object?>
        {
            ["login"] = user.Login,
            ["id"] = user.Id,
            ["node_id"] = "MDQ6VXNlcjE=",
            ["type"] = "User",
            ["name"] = null,
        });
    }

    private static IResult Error(string error, string description) => Results.Json(new Dictionary<string, string>
    {
        ["error"] = error,
        ["error_description"] = description,
        ["error_uri"] = ErrorUri,
    });

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
