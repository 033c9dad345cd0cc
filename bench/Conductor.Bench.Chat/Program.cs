using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using Conductor.LocalServers;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Logging;

// N WebSocket clients in one room through one Api instance (real Postgres and Redis, started here), each sending M
// messages closed-loop (the next after its own previous one came back), against the same clients and load on a bare
// in-memory broadcast endpoint served by this process: what storing, ordering and fanning out through Redis costs.
// Usage: dotnet run -c Release --project bench/Conductor.Bench.Chat [clients=20] [messages=50]

var clients = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 20;
var messagesPerClient = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 50;
using var runTimeout = new CancellationTokenSource(TimeSpan.FromMinutes(3));
var token = runTimeout.Token;

ThrowawayServers? servers = null;
Process? api = null;
Microsoft.AspNetCore.Builder.WebApplication? echo = null;
try
{
    servers = await ThrowawayServers.StartAsync("bench-chat", token);
    var (postgres, redis) = (servers.Postgres, servers.Redis);
    var apiUrl = new Uri($"http://127.0.0.1:{FreePort.Next()}");
    api = StartApi(apiUrl, postgres.ConnectionStringFor("conductordb"), redis.ConnectionString);
    await WaitUntilAliveAsync(apiUrl, api, token);

    echo = BareEcho.Build();
    await echo.StartAsync(token);
    var echoUrl = new Uri(echo.Urls.First());

    Console.WriteLine($"{clients} clients x {messagesPerClient} messages, closed loop, one room, one Api instance (Postgres {postgres.Port}, Redis {redis.Port})");
    var (roomId, tokens) = await SetUpRoomAsync(apiUrl, clients, token);

    // Warm-up of both paths so the JIT is not what we measure.
    await RunAsync(tokens.Select(t => Socket(apiUrl, $"/ws/{roomId}", t)).ToList(), 5, token);
    await RunAsync(Enumerable.Range(0, clients).Select(_ => Socket(echoUrl, "/echo", null)).ToList(), 5, token);

    var bare = await RunAsync(Enumerable.Range(0, clients).Select(_ => Socket(echoUrl, "/echo", null)).ToList(), messagesPerClient, token);
    var chat = await RunAsync(tokens.Select(t => Socket(apiUrl, $"/ws/{roomId}", t)).ToList(), messagesPerClient, token);

    Console.WriteLine();
    Console.WriteLine($"{"endpoint",-22} {"sent msg/s",12} {"delivered/s",12} {"p50 ms",9} {"p99 ms",9} {"max ms",9}");
    Report("bare echo (in-memory)", bare);
    Report("Api /ws (store+fanout)", chat);
    return 0;
}
finally
{
    if (api is { HasExited: false })
    {
        api.Kill(entireProcessTree: true);
        await api.WaitForExitAsync(CancellationToken.None);
    }
    if (echo is not null)
    {
        await echo.DisposeAsync();
    }
    if (servers is not null)
    {
        await servers.DisposeAsync();
    }
}

static void Report(string name, Result result) =>
    Console.WriteLine($"{name,-22} {result.Sent / result.Elapsed.TotalSeconds,12:N0} {result.Delivered / result.Elapsed.TotalSeconds,12:N0} " +
        $"{Percentile(result.LatenciesMs, 0.50),9:F2} {Percentile(result.LatenciesMs, 0.99),9:F2} {result.LatenciesMs.Max(),9:F2}");

static double Percentile(List<double> values, double p)
{
    var sorted = values.Order().ToList();
    return sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Count) - 1, 0, sorted.Count - 1)];
}

static Func<CancellationToken, Task<ClientWebSocket>> Socket(Uri baseUrl, string path, string? accessToken) => async cancellationToken =>
{
    var socket = new ClientWebSocket();
    var url = new UriBuilder(baseUrl) { Scheme = "ws", Path = path, Query = accessToken is null ? "" : $"access_token={Uri.EscapeDataString(accessToken)}" }.Uri;
    await socket.ConnectAsync(url, cancellationToken);
    return socket;
};

// Every client sends `count` messages, each after its previous one came back to it; every client records, for each
// chat frame it receives, now minus the send time carried in the content.
static async Task<Result> RunAsync(List<Func<CancellationToken, Task<ClientWebSocket>>> connectors, int count, CancellationToken cancellationToken)
{
    var sockets = new List<ClientWebSocket>();
    foreach (var connect in connectors)
    {
        sockets.Add(await connect(cancellationToken));
    }
    // Wait for each socket's welcome (the Api sends presence once joined; the echo endpoint sends a hello).
    foreach (var socket in sockets)
    {
        await ReceiveFrameAsync(socket, new byte[1 << 16], cancellationToken);
    }
    var expected = (long)count * sockets.Count * sockets.Count;
    var latencies = new ConcurrentBag<double>();
    long delivered = 0;
    var clock = Stopwatch.StartNew();
    var tasks = sockets.Select((socket, index) => Task.Run(async () =>
    {
        var buffer = new byte[1 << 16];
        var ownEcho = new SemaphoreSlim(0);
        var receiver = Task.Run(async () =>
        {
            var perReceiver = count * sockets.Count;
            for (var received = 0; received < perReceiver;)
            {
                var frame = await ReceiveFrameAsync(socket, buffer, cancellationToken);
                if (frame is null)
                {
                    return;
                }
                using var document = JsonDocument.Parse(frame);
                if (document.RootElement.GetProperty("type").GetString() != "chat")
                {
                    continue;
                }
                var content = document.RootElement.GetProperty("content").GetString()!;
                var parts = content.Split('|');
                latencies.Add((clock.Elapsed.TotalMilliseconds - double.Parse(parts[2], CultureInfo.InvariantCulture)));
                received++;
                Interlocked.Increment(ref delivered);
                if (parts[0] == index.ToString(CultureInfo.InvariantCulture))
                {
                    ownEcho.Release();
                }
            }
        }, cancellationToken);
        for (var n = 0; n < count; n++)
        {
            var content = $"{index}|{n}|{clock.Elapsed.TotalMilliseconds.ToString("F3", CultureInfo.InvariantCulture)}";
            await socket.SendAsync(JsonSerializer.SerializeToUtf8Bytes(new { type = "chat", content }), WebSocketMessageType.Text, true, cancellationToken);
            await ownEcho.WaitAsync(cancellationToken);
        }
        return receiver;
    }, cancellationToken)).ToList();
    var receivers = await Task.WhenAll(tasks);
    await Task.WhenAll(receivers).WaitAsync(TimeSpan.FromSeconds(60), cancellationToken);
    var elapsed = clock.Elapsed;
    foreach (var socket in sockets)
    {
        try
        {
            await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "done", cancellationToken);
        }
        catch (WebSocketException)
        {
        }
        socket.Dispose();
    }
    if (Interlocked.Read(ref delivered) < expected)
    {
        throw new InvalidOperationException($"Only {delivered} of {expected} deliveries arrived.");
    }
    return new Result(count * sockets.Count, delivered, elapsed, [.. latencies]);
}

static async Task<byte[]?> ReceiveFrameAsync(ClientWebSocket socket, byte[] buffer, CancellationToken cancellationToken)
{
    var length = 0;
    while (true)
    {
        var result = await socket.ReceiveAsync(buffer.AsMemory(length), cancellationToken);
        if (result.MessageType == WebSocketMessageType.Close)
        {
            return null;
        }
        length += result.Count;
        if (result.EndOfMessage)
        {
            return buffer[..length];
        }
    }
}

static async Task<(Guid RoomId, List<string> Tokens)> SetUpRoomAsync(Uri apiUrl, int clients, CancellationToken cancellationToken)
{
    using var http = new HttpClient { BaseAddress = apiUrl };
    var tokens = new List<string>();
    for (var i = 0; i < clients; i++)
    {
        using var login = await http.PostAsJsonAsync("/auth/dev", new { login = $"bench{i}" }, cancellationToken);
        login.EnsureSuccessStatusCode();
        tokens.Add((await login.Content.ReadFromJsonAsync<JsonElement>(cancellationToken)).GetProperty("access_token").GetString()!);
    }
    using var create = new HttpRequestMessage(HttpMethod.Post, "/rooms") { Content = JsonContent.Create(new { name = "bench" }) };
    create.Headers.Authorization = new("Bearer", tokens[0]);
    using var created = await http.SendAsync(create, cancellationToken);
    created.EnsureSuccessStatusCode();
    var roomId = (await created.Content.ReadFromJsonAsync<JsonElement>(cancellationToken)).GetProperty("room_id").GetGuid();
    foreach (var guest in tokens.Skip(1))
    {
        using var inviteRequest = new HttpRequestMessage(HttpMethod.Post, $"/rooms/{roomId}/invites") { Content = JsonContent.Create(new { }) };
        inviteRequest.Headers.Authorization = new("Bearer", tokens[0]);
        using var invite = await http.SendAsync(inviteRequest, cancellationToken);
        invite.EnsureSuccessStatusCode();
        var inviteToken = (await invite.Content.ReadFromJsonAsync<JsonElement>(cancellationToken)).GetProperty("token").GetString();
        using var joinRequest = new HttpRequestMessage(HttpMethod.Post, "/rooms/join") { Content = JsonContent.Create(new { token = inviteToken }) };
        joinRequest.Headers.Authorization = new("Bearer", guest);
        using var joined = await http.SendAsync(joinRequest, cancellationToken);
        joined.EnsureSuccessStatusCode();
    }
    return (roomId, tokens);
}

static Process StartApi(Uri url, string database, string redis)
{
    // bench/Conductor.Bench.Chat/bin/<configuration>/net10.0/ → Conductor.Api/bin/<configuration>/net10.0/Conductor.Api.dll
    var output = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
    var configuration = output.Parent!.Name;
    var root = output.Parent.Parent!.Parent!.Parent!.Parent!.FullName;
    var dll = Path.Combine(root, "Conductor.Api", "bin", configuration, output.Name, "Conductor.Api.dll");
    var start = new ProcessStartInfo("dotnet") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = Path.GetDirectoryName(dll) };
    start.ArgumentList.Add(dll);
    var environment = new Dictionary<string, string>
    {
        ["ASPNETCORE_URLS"] = url.ToString(),
        ["ConnectionStrings__conductordb"] = database,
        ["ConnectionStrings__redis"] = redis,
        ["Auth__DevLogin"] = "true",
        ["Auth__RateLimit__PermitLimit"] = "100000",
        ["Web__PublicUrl"] = "http://127.0.0.1",
        // The bench measures throughput, not the per-user limits.
        ["Chat__MessageBurst"] = "1000000",
        ["Chat__MessagesPerSecond"] = "1000000",
        ["Logging__LogLevel__Default"] = "Warning",
    };
    foreach (var (name, value) in environment)
    {
        start.Environment[name] = value;
    }
    var process = Process.Start(start)!;
    // Drain the output so the Api never blocks on a full pipe; show errors.
    process.OutputDataReceived += (_, e) => { };
    process.ErrorDataReceived += (_, e) => { if (e.Data is not null) Console.Error.WriteLine($"[api] {e.Data}"); };
    process.BeginOutputReadLine();
    process.BeginErrorReadLine();
    return process;
}

static async Task WaitUntilAliveAsync(Uri url, Process api, CancellationToken cancellationToken)
{
    using var http = new HttpClient { BaseAddress = url, Timeout = TimeSpan.FromSeconds(2) };
    for (var attempt = 0; attempt < 600; attempt++)
    {
        if (api.HasExited)
        {
            throw new InvalidOperationException($"The Api exited with {api.ExitCode} before it was alive.");
        }
        try
        {
            using var response = await http.GetAsync("/alive", cancellationToken);
            if (response.IsSuccessStatusCode)
            {
                return;
            }
        }
        catch (HttpRequestException)
        {
        }
        catch (TaskCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
        }
        await Task.Delay(100, cancellationToken);
    }
    throw new TimeoutException("The Api did not become alive.");
}

internal sealed record Result(long Sent, long Delivered, TimeSpan Elapsed, List<double> LatenciesMs);

/// <summary>
/// The baseline: a WebSocket endpoint that sends every text frame it receives, turned into a chat-shaped frame, to
/// every connected socket (one room, in memory, one send loop per socket): no auth, storage, Redis or ordering.
/// </summary>
internal static class BareEcho
{
    public static Microsoft.AspNetCore.Builder.WebApplication Build()
    {
        var builder = Microsoft.AspNetCore.Builder.WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls($"http://127.0.0.1:{FreePort.Next()}");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        app.UseWebSockets();
        var sockets = new ConcurrentDictionary<Guid, System.Threading.Channels.Channel<byte[]>>();
        app.Map("/echo", async (Microsoft.AspNetCore.Http.HttpContext context) =>
        {
            using var socket = await context.WebSockets.AcceptWebSocketAsync();
            var id = Guid.NewGuid();
            var outbound = System.Threading.Channels.Channel.CreateUnbounded<byte[]>();
            sockets[id] = outbound;
            var sender = Task.Run(async () =>
            {
                await foreach (var frame in outbound.Reader.ReadAllAsync())
                {
                    await socket.SendAsync(frame, WebSocketMessageType.Text, true, CancellationToken.None);
                }
            });
            outbound.Writer.TryWrite("{\"type\":\"hello\"}"u8.ToArray());
            var buffer = new byte[1 << 16];
            try
            {
                while (true)
                {
                    var length = 0;
                    ValueWebSocketReceiveResult result;
                    do
                    {
                        result = await socket.ReceiveAsync(buffer.AsMemory(length), context.RequestAborted);
                        length += result.Count;
                    }
                    while (!result.EndOfMessage && result.MessageType != WebSocketMessageType.Close);
                    if (result.MessageType == WebSocketMessageType.Close)
                    {
                        break;
                    }
                    using var document = JsonDocument.Parse(buffer.AsMemory(0, length));
                    var frame = JsonSerializer.SerializeToUtf8Bytes(new
                    {
                        type = "chat",
                        id = Guid.NewGuid(),
                        content = document.RootElement.GetProperty("content").GetString(),
                        timestamp = DateTime.UtcNow,
                    });
                    foreach (var target in sockets.Values)
                    {
                        target.Writer.TryWrite(frame);
                    }
                }
            }
            catch (Exception exception) when (exception is WebSocketException or OperationCanceledException)
            {
            }
            finally
            {
                sockets.TryRemove(id, out _);
                outbound.Writer.TryComplete();
                await sender.ContinueWith(_ => { }, TaskScheduler.Default);
                if (socket.State is WebSocketState.Open or WebSocketState.CloseReceived)
                {
                    await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "bye", CancellationToken.None);
                }
            }
        });
        return app;
    }
}
