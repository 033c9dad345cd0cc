using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text.Json;

namespace Conductor.Cli;

/// <summary>
/// The CLI's HTTP client for the Api: the bearer token from the session file, refreshed (under the session lock)
/// when it has less than a minute left; connection failures retried with exponential backoff (and, for reads, 502,
/// 503, 504 and 429 too); problem details turned into <see cref="CliException"/>s with meaningful exit codes.
/// </summary>
public sealed class ConductorClient : IDisposable
{
    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };
    private static readonly TimeSpan RefreshMargin = TimeSpan.FromSeconds(60);

    private readonly HttpClient _http;
    private readonly ConfigStore _config;
    private readonly TimeProvider _time;
    private StoredSession? _session;

    public ConductorClient(ConfigStore config, string? server, TimeProvider? time = null)
    {
        _config = config;
        _time = time ?? TimeProvider.System;
        _session = config.Read();
        var baseUrl = server ?? Environment.GetEnvironmentVariable("CONDUCTOR_SERVER") ?? _session?.Server
            ?? throw new CliException(ExitCodes.NotSignedIn, "No server: pass --server URL (or set CONDUCTOR_SERVER), or run `conductor login --server URL`.");
        if (!Uri.TryCreate(baseUrl.TrimEnd('/') + "/", UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
        {
            throw new CliException(ExitCodes.Usage, $"'{baseUrl}' is not an http(s) URL.");
        }
        Server = uri;
        _http = new HttpClient { BaseAddress = uri, Timeout = TimeSpan.FromSeconds(100) };
        _http.DefaultRequestHeaders.UserAgent.ParseAdd("conductor-cli/0.1");
    }

    public Uri Server { get; }
    public StoredSession? Session => _session;
    public int MaxAttempts { get; init; } = 5;

    public StoredSession RequireSession() =>
        _session is { } session && SameServer(session.Server)
            ? session
            : throw new CliException(ExitCodes.NotSignedIn, $"Not signed in to {Server}: run `conductor login`.");

    /// <summary>A usable access token, refreshed first when it is about to expire.</summary>
    public async Task<string> GetAccessTokenAsync(CancellationToken cancellationToken)
    {
        var session = RequireSession();
        if (session.ExpiresAt - _time.GetUtcNow() > RefreshMargin)
        {
            return session.AccessToken;
        }
        using (await _config.LockAsync(cancellationToken))
        {
            // Another process may have refreshed while this one waited: the file is the truth.
            session = _config.Read() ?? throw new CliException(ExitCodes.NotSignedIn, "Signed out meanwhile: run `conductor login`.");
            if (session.ExpiresAt - _time.GetUtcNow() > RefreshMargin)
            {
                _session = session;
                return session.AccessToken;
            }
            using var response = await SendCoreAsync(() => new HttpRequestMessage(HttpMethod.Post, "auth/refresh")
            {
                Content = JsonContent.Create(new { refresh_token = session.RefreshToken }, options: Json),
            }, idempotent: true, cancellationToken);
            if (!response.IsSuccessStatusCode)
            {
                throw new CliException(ExitCodes.NotSignedIn, $"The session could not be renewed ({await DescribeAsync(response, cancellationToken)}): run `conductor login`.");
            }
            var tokens = await response.Content.ReadFromJsonAsync<TokenResponse>(Json, cancellationToken) ?? throw new CliException(ExitCodes.Error, "Empty refresh answer.");
            _session = SessionFrom(tokens);
            _config.Write(_session);
            return _session.AccessToken;
        }
    }

    public StoredSession SessionFrom(TokenResponse tokens) =>
        new(Server.ToString().TrimEnd('/'), tokens.AccessToken, tokens.RefreshToken, _time.GetUtcNow().AddSeconds(tokens.ExpiresIn), tokens.User.Id, tokens.User.Login);

    public void Remember(StoredSession session)
    {
        _session = session;
        _config.Write(session);
    }

    public Task<T> GetAsync<T>(string path, CancellationToken cancellationToken) => SendAsync<T>(HttpMethod.Get, path, null, cancellationToken);

    public Task<T> PostAsync<T>(string path, object? body, CancellationToken cancellationToken) => SendAsync<T>(HttpMethod.Post, path, body, cancellationToken);

    public async Task<T> SendAsync<T>(HttpMethod method, string path, object? body, CancellationToken cancellationToken, bool anonymous = false)
    {
        var token = anonymous ? null : await GetAccessTokenAsync(cancellationToken);
        using var response = await SendCoreAsync(() =>
        {
            var request = new HttpRequestMessage(method, path);
            if (token is not null)
            {
                request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
            }
            if (body is not null)
            {
                request.Content = JsonContent.Create(body, options: Json);
            }
            return request;
        }, idempotent: method == HttpMethod.Get, cancellationToken);
        if (!response.IsSuccessStatusCode)
        {
            throw await ToExceptionAsync(response, cancellationToken);
        }
        if (typeof(T) == typeof(JsonElement) && response.Content.Headers.ContentLength == 0)
        {
            return default!;
        }
        return (await response.Content.ReadFromJsonAsync<T>(Json, cancellationToken))!;
    }

    private async Task<HttpResponseMessage> SendCoreAsync(Func<HttpRequestMessage> create, bool idempotent, CancellationToken cancellationToken)
    {
        var delay = TimeSpan.FromMilliseconds(250);
        for (var attempt = 1; ; attempt++)
        {
            using var request = create();
            try
            {
                var response = await _http.SendAsync(request, cancellationToken);
                var transient = response.StatusCode is HttpStatusCode.BadGateway or HttpStatusCode.ServiceUnavailable or HttpStatusCode.GatewayTimeout
                    or HttpStatusCode.TooManyRequests;
                if (!transient || !idempotent || attempt >= MaxAttempts)
                {
                    return response;
                }
                var retryAfter = response.Headers.RetryAfter?.Delta;
                response.Dispose();
                await Task.Delay(retryAfter ?? delay, cancellationToken);
            }
            // A request that never reached the server (refused, unreachable) is safe to repeat whatever its method.
            catch (HttpRequestException ex) when (attempt < MaxAttempts && (idempotent || ex.InnerException is SocketException))
            {
                await Task.Delay(delay, cancellationToken);
            }
            catch (HttpRequestException ex)
            {
                throw new CliException(ExitCodes.Unreachable, $"Cannot reach {Server} (tried {attempt} time{(attempt == 1 ? "" : "s")}): {ex.Message}", "unreachable");
            }
            delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, TimeSpan.FromSeconds(8).Ticks));
        }
    }

    public static async Task<CliException> ToExceptionAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        var (message, code, problem) = await ReadProblemAsync(response, cancellationToken);
        var exit = response.StatusCode switch
        {
            HttpStatusCode.Unauthorized => ExitCodes.NotSignedIn,
            HttpStatusCode.Forbidden => ExitCodes.Forbidden,
            HttpStatusCode.NotFound => ExitCodes.NotFound,
            HttpStatusCode.Conflict or HttpStatusCode.PreconditionFailed => ExitCodes.Conflict,
            HttpStatusCode.BadRequest or HttpStatusCode.UnprocessableEntity => ExitCodes.Usage,
            _ => ExitCodes.Error,
        };
        return new CliException(exit, message, code, problem);
    }

    private static async Task<string> DescribeAsync(HttpResponseMessage response, CancellationToken cancellationToken) =>
        (await ReadProblemAsync(response, cancellationToken)).Message;

    private static async Task<(string Message, string? Code, JsonElement? Problem)> ReadProblemAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        var text = await response.Content.ReadAsStringAsync(cancellationToken);
        try
        {
            var problem = JsonDocument.Parse(text).RootElement.Clone();
            var title = problem.TryGetProperty("title", out var t) ? t.GetString() : null;
            var detail = problem.TryGetProperty("detail", out var d) ? d.GetString() : null;
            var code = problem.TryGetProperty("code", out var c) ? c.GetString() : null;
            return ($"{title ?? response.ReasonPhrase}{(detail is null ? "" : ": " + detail)}", code, problem);
        }
        catch (JsonException)
        {
            return ($"{(int)response.StatusCode} {response.ReasonPhrase}", null, null);
        }
    }

    public bool SameServer(string server) =>
        Uri.TryCreate(server.TrimEnd('/') + "/", UriKind.Absolute, out var other) && Uri.Compare(other, Server, UriComponents.SchemeAndServer | UriComponents.Path,
            UriFormat.Unescaped, StringComparison.OrdinalIgnoreCase) == 0;

    public void Dispose() => _http.Dispose();
}

public sealed record UserInfo(Guid Id, string Login);

public sealed record TokenResponse(string AccessToken, string RefreshToken, int ExpiresIn, UserInfo User);
