using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Net.WebSockets;
using System.Reflection;
using System.Text.Json;
using System.Text.RegularExpressions;
using Conductor.LocalServers;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

// In one run, against a fake OpenAI-compatible provider on 127.0.0.1 with a fixed first-token delay, a real Api
// process and private Postgres and Redis (the AppHost's provisioning code):
// 1. time to first token (TTFT) through /ai/infer over the TTFT of the same provider called directly (interleaved);
// 2. cancel-to-provider-abort: a client hangs up on /ai/infer mid-stream; the time until the provider (the fake, in
//    this process, so one clock) sees its request aborted, against the 50 ms goal (HttpClient's drain would be 2 s);
// 3. @ai in chat: from one member sending "@ai ..." on the chat socket to the first ai_token reaching another member's
//    socket, over the provider's own first-token delay and the direct TTFT.
// The whole run is bounded.

// [runs] [--api-dll PATH] [--infer-only]: another build of the Api (e.g. an earlier commit's, for a before/after
// comparison on the same machine); --infer-only skips the parts that need this version's features.
var positional = args.Where((a, i) => !a.StartsWith("--", StringComparison.Ordinal) && (i == 0 || args[i - 1] != "--api-dll")).ToList();
var runs = positional.Count > 0 ? int.Parse(positional[0], System.Globalization.CultureInfo.InvariantCulture) : 30;
var apiDllArgument = args.SkipWhile(a => a != "--api-dll").Skip(1).FirstOrDefault();
var inferOnly = args.Contains("--infer-only");
var firstTokenDelay = TimeSpan.FromMilliseconds(50);
const string Key = "bench-not-a-real-key";
using var deadline = new CancellationTokenSource(TimeSpan.FromMinutes(5));
var ct = deadline.Token;

ThrowawayServers? servers = null;
WebApplication? fake = null;
Process? api = null;
try
{
    servers = await ThrowawayServers.StartAsync("bench-ai", ct);
    var (postgres, redis) = (servers.Postgres, servers.Redis);
    var aborts = new ConcurrentDictionary<string, TaskCompletionSource<long>>();
    (fake, var fakeUrl) = await StartFakeOpenAIAsync(firstTokenDelay, aborts);

    var apiDll = apiDllArgument is { } given ? Path.GetFullPath(given)
        : typeof(Program).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == "ApiAssembly").Value!;
    Console.WriteLine($"Api: {apiDll}");
    var start = new ProcessStartInfo("dotnet", [apiDll]) { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = Path.GetDirectoryName(apiDll) };
    // Secrets through the environment only, never argv.
    foreach (var (name, value) in new Dictionary<string, string>
    {
        ["ASPNETCORE_URLS"] = "http://127.0.0.1:0",
        ["ASPNETCORE_ENVIRONMENT"] = "Production",
        ["ConnectionStrings__conductordb"] = postgres.ConnectionStringFor("conductordb"),
        ["ConnectionStrings__redis"] = redis.ConnectionString,
        ["Auth__DevLogin"] = "true",
        ["Auth__RateLimit__PermitLimit"] = "100000",
        ["Web__PublicUrl"] = "https://conductor.example",
        ["Logging__LogLevel__Default"] = "Warning",
        ["Logging__LogLevel__Microsoft.Hosting.Lifetime"] = "Information",
        ["Ai__ProbeInterval"] = "00:00:05",
        ["Ai__Providers__fake__Kind"] = "openai",
        ["Ai__Providers__fake__Endpoint"] = new Uri(fakeUrl, "/v1").AbsoluteUri,
        ["Ai__Providers__fake__ApiKey"] = Key,
        ["Ai__Providers__fake__Model"] = "fake-model",
        ["Ai__DefaultProvider"] = "fake",
        ["AiChat__AnswerBurst"] = "100000",
        ["AiChat__AnswersPerMinute"] = "1000000",
        ["Chat__MessageBurst"] = "100000",
        ["Chat__MessagesPerSecond"] = "100000",
    })
    {
        start.Environment[name] = value;
    }
    api = Process.Start(start)!;
    var apiUrl = await WaitForListeningAsync(api, ct);

    using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
    var login = await (await http.PostAsJsonAsync(new Uri(apiUrl, "/auth/dev"), new { login = "bench" }, ct)).Content.ReadFromJsonAsync<JsonElement>(ct);
    var token = login.GetProperty("access_token").GetString()!;
    await WaitForProviderAsync(http, apiUrl, token, ct);

    async Task<double> DirectAsync()
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(fakeUrl, "/v1/chat/completions"))
        {
            Content = JsonContent.Create(new { model = "fake-model", stream = true, messages = new[] { new { role = "user", content = "hi" } } }),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", Key);
        return await TimeToFirstAsync(http, request, "data: {\"id\"", ct);
    }

    async Task<double> ThroughApiAsync()
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(apiUrl, "/ai/infer"))
        {
            Content = JsonContent.Create(new { prompt = "hi", provider = "fake" }),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return await TimeToFirstAsync(http, request, "data: {\"token\"", ct);
    }

    for (var i = 0; i < 5; i++) // warm-up: JIT, connection pools
    {
        await DirectAsync();
        await ThroughApiAsync();
    }
    var direct = new List<double>();
    var through = new List<double>();
    for (var i = 0; i < runs; i++)
    {
        direct.Add(await DirectAsync());
        through.Add(await ThroughApiAsync());
    }
    Console.WriteLine($"fake provider first-token delay {firstTokenDelay.TotalMilliseconds} ms, {runs} runs each, interleaved");
    Console.WriteLine($"{"path",-24} {"median ms",10} {"p90 ms",10} {"min ms",10}");
    Report("provider directly", direct);
    Report("through /ai/infer", through);
    Console.WriteLine($"ratio (median /ai/infer over median direct): {Median(through) / Median(direct):0.00}x, overhead {Median(through) - Median(direct):0.0} ms (goal < 5 ms)");

    if (inferOnly)
    {
        return 0;
    }

    // 2. Cancel to provider abort. The client hangs up as a browser closing the stream does: at once (HttpClient's
    // default would drain the response for up to 2 s first, which would be the client's delay, not the Api's).
    using var hangUp = new HttpClient(new SocketsHttpHandler { MaxResponseDrainSize = 0, ResponseDrainTimeout = TimeSpan.Zero });
    async Task<double> CancelAsync(int run)
    {
        var marker = $"hang-{run}-{Guid.NewGuid():N}";
        var aborted = aborts.GetOrAdd(marker, _ => new TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously));
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(apiUrl, "/ai/infer"))
        {
            Content = JsonContent.Create(new { prompt = marker, provider = "fake" }),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        var response = await hangUp.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, ct);
        var reader = new StreamReader(await response.Content.ReadAsStreamAsync(ct));
        while (await reader.ReadLineAsync(ct) is { } line && !line.StartsWith("data: {\"token\"", StringComparison.Ordinal))
        {
        }
        var hungUp = Stopwatch.GetTimestamp();
        response.Dispose(); // the browser closes the stream
        var abortedAt = await aborted.Task.WaitAsync(TimeSpan.FromSeconds(10), ct);
        aborts.TryRemove(marker, out _);
        return Stopwatch.GetElapsedTime(hungUp, abortedAt).TotalMilliseconds;
    }
    var cancels = new List<double>();
    for (var i = 0; i < Math.Min(runs, 20); i++)
    {
        cancels.Add(await CancelAsync(i));
    }
    Console.WriteLine();
    Console.WriteLine($"cancel to provider abort (client hangs up on /ai/infer mid-stream; measured on the provider's side), {cancels.Count} runs");
    Console.WriteLine($"{"path",-24} {"median ms",10} {"p90 ms",10} {"min ms",10} {"max ms",10}");
    Report("hang-up to abort", cancels, withMax: true);
    Console.WriteLine($"goal: within 50 ms (HttpClient's default drain would keep it open ~2000 ms); max {cancels.Max():0.0} ms");

    // 3. @ai in chat: asker and other member on the same Api, each on a chat socket.
    var other = await (await http.PostAsJsonAsync(new Uri(apiUrl, "/auth/dev"), new { login = "bench-other" }, ct)).Content.ReadFromJsonAsync<JsonElement>(ct);
    var otherToken = other.GetProperty("access_token").GetString()!;
    var roomId = await CreateRoomWithAsync(http, apiUrl, token, otherToken, ct);
    using var asker = await ConnectAsync(apiUrl, roomId, token, ct);
    using var watcher = await ConnectAsync(apiUrl, roomId, otherToken, ct);
    async Task<double> MentionAsync(int run)
    {
        var started = Stopwatch.GetTimestamp();
        await SendFrameAsync(asker, $$"""{"type":"chat","content":"@ai bench question {{run}}"}""", ct);
        Guid? answer = null;
        double? first = null;
        // Read the other member's frames until this answer's first token, then until it is done (untimed).
        while (await ReceiveFrameAsync(watcher, ct) is { } frame)
        {
            var type = frame.GetProperty("type").GetString();
            if (type == "ai_start" && answer is null)
            {
                answer = frame.GetProperty("message_id").GetGuid();
            }
            else if (type == "ai_token" && first is null && frame.GetProperty("message_id").GetGuid() == answer)
            {
                first = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
            }
            else if (type == "ai_done" && frame.GetProperty("message_id").GetGuid() == answer)
            {
                break;
            }
        }
        return first ?? throw new InvalidOperationException("No ai_token reached the other member.");
    }
    for (var i = 0; i < 3; i++)
    {
        await MentionAsync(-1 - i); // warm-up
    }
    var mentions = new List<double>();
    var directAgain = new List<double>();
    for (var i = 0; i < runs; i++)
    {
        mentions.Add(await MentionAsync(i));
        directAgain.Add(await DirectAsync());
    }
    Console.WriteLine();
    Console.WriteLine($"@ai in chat: from the asker's chat frame to the first ai_token at another member's socket, {runs} runs, interleaved with direct calls");
    Console.WriteLine($"{"path",-24} {"median ms",10} {"p90 ms",10} {"min ms",10}");
    Report("provider directly", directAgain);
    Report("@ai to other member", mentions);
    Console.WriteLine($"over the provider's own first-token delay ({firstTokenDelay.TotalMilliseconds} ms): +{Median(mentions) - firstTokenDelay.TotalMilliseconds:0.0} ms; "
        + $"over the direct TTFT: {Median(mentions) / Median(directAgain):0.00}x, +{Median(mentions) - Median(directAgain):0.0} ms");
    return 0;
}
finally
{
    if (api is { HasExited: false })
    {
        api.Kill(entireProcessTree: true);
        await api.WaitForExitAsync(CancellationToken.None);
    }
    if (fake is not null)
    {
        await fake.StopAsync(CancellationToken.None);
        await fake.DisposeAsync();
    }
    if (servers is not null)
    {
        await servers.DisposeAsync();
    }
}

static void Report(string name, List<double> samples, bool withMax = false)
{
    var sorted = samples.Order().ToList();
    Console.WriteLine($"{name,-24} {Median(samples),10:0.0} {sorted[(int)Math.Ceiling(sorted.Count * 0.9) - 1],10:0.0} {sorted[0],10:0.0}"
        + (withMax ? $" {sorted[^1],10:0.0}" : ""));
}

// A room of the first user's with the second invited and joined, through the Api as clients do it.
static async Task<Guid> CreateRoomWithAsync(HttpClient http, Uri apiUrl, string hostToken, string guestToken, CancellationToken ct)
{
    async Task<JsonElement> PostAsync(string path, object body, string bearer)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(apiUrl, path)) { Content = JsonContent.Create(body) };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", bearer);
        using var response = await http.SendAsync(request, ct);
        response.EnsureSuccessStatusCode();
        return await response.Content.ReadFromJsonAsync<JsonElement>(ct);
    }
    var roomId = (await PostAsync("/rooms", new { name = "bench ai chat" }, hostToken)).GetProperty("room_id").GetGuid();
    var invite = (await PostAsync($"/rooms/{roomId}/invites", new { }, hostToken)).GetProperty("token").GetString();
    await PostAsync("/rooms/join", new { token = invite }, guestToken);
    return roomId;
}

// A chat socket, returned once the server's welcome (presence) arrived: from then on it receives the room's frames.
static async Task<ClientWebSocket> ConnectAsync(Uri apiUrl, Guid roomId, string bearer, CancellationToken ct)
{
    var socket = new ClientWebSocket();
    socket.Options.SetRequestHeader("Authorization", "Bearer " + bearer);
    var url = new UriBuilder(apiUrl) { Scheme = "ws", Path = $"/ws/{roomId:D}" }.Uri;
    await socket.ConnectAsync(url, ct);
    while (await ReceiveFrameAsync(socket, ct) is { } frame && frame.GetProperty("type").GetString() != "presence")
    {
    }
    return socket;
}

static Task SendFrameAsync(ClientWebSocket socket, string json, CancellationToken ct) =>
    socket.SendAsync(System.Text.Encoding.UTF8.GetBytes(json), WebSocketMessageType.Text, true, ct);

static async Task<JsonElement?> ReceiveFrameAsync(ClientWebSocket socket, CancellationToken ct)
{
    var buffer = new byte[64 * 1024];
    using var message = new MemoryStream();
    while (true)
    {
        var result = await socket.ReceiveAsync(buffer, ct);
        if (result.MessageType == WebSocketMessageType.Close)
        {
            return null;
        }
        message.Write(buffer, 0, result.Count);
        if (result.EndOfMessage)
        {
            return JsonDocument.Parse(message.ToArray()).RootElement.Clone();
        }
    }
}

static double Median(List<double> samples)
{
    var sorted = samples.Order().ToList();
    return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[sorted.Count / 2 - 1] + sorted[sorted.Count / 2]) / 2;
}

// From sending the request to reading the first line that starts with the prefix; the rest is drained untimed.
static async Task<double> TimeToFirstAsync(HttpClient http, HttpRequestMessage request, string prefix, CancellationToken ct)
{
    var started = Stopwatch.GetTimestamp();
    using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, ct);
    response.EnsureSuccessStatusCode();
    using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(ct));
    double? first = null;
    while (await reader.ReadLineAsync(ct) is { } line)
    {
        if (first is null && line.StartsWith(prefix, StringComparison.Ordinal))
        {
            first = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
        }
    }
    return first ?? throw new InvalidOperationException($"No line starting with {prefix} arrived.");
}

static async Task<Uri> WaitForListeningAsync(Process process, CancellationToken ct)
{
    while (await process.StandardOutput.ReadLineAsync(ct) is { } line)
    {
        var match = Regex.Match(line, @"Now listening on: (?<url>http://\S+)");
        if (match.Success)
        {
            _ = process.StandardOutput.ReadToEndAsync(CancellationToken.None); // keep the pipe drained
            _ = process.StandardError.ReadToEndAsync(CancellationToken.None);
            return new Uri(match.Groups["url"].Value);
        }
    }
    throw new InvalidOperationException($"The Api exited before listening: {await process.StandardError.ReadToEndAsync(ct)}");
}

static async Task WaitForProviderAsync(HttpClient http, Uri apiUrl, string token, CancellationToken ct)
{
    while (true)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(apiUrl, "/ai/status"));
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        var status = await (await http.SendAsync(request, ct)).Content.ReadFromJsonAsync<JsonElement>(ct);
        if (status.GetProperty("providers").EnumerateArray().Any(p => p.GetProperty("name").GetString() == "fake" && p.GetProperty("available").GetBoolean()))
        {
            return;
        }
        await Task.Delay(100, ct);
    }
}

// A minimal OpenAI-compatible server: models listing for the probe, streamed chat completions with a fixed delay
// before the first token and 10 tokens in all. A prompt holding a "hang-..." marker gets one token and then nothing:
// the time the client's abort reaches the server is recorded under the marker.
static async Task<(WebApplication App, Uri Url)> StartFakeOpenAIAsync(TimeSpan firstTokenDelay, ConcurrentDictionary<string, TaskCompletionSource<long>> aborts)
{
    var builder = WebApplication.CreateSlimBuilder();
    builder.WebHost.UseUrls("http://127.0.0.1:0");
    builder.Logging.ClearProviders();
    var app = builder.Build();
    app.MapGet("/v1/models", () => Results.Text("""{"object":"list","data":[{"id":"fake-model","object":"model","created":1700000000,"owned_by":"fake"}]}""", "application/json"));
    app.MapPost("/v1/chat/completions", async (HttpContext context) =>
    {
        var aborted = context.RequestAborted;
        var body = await new StreamReader(context.Request.Body).ReadToEndAsync(aborted);
        var hang = Regex.Match(body, "hang-[0-9]+-[0-9a-f]{32}");
        if (hang.Success)
        {
            var recorded = aborts.GetOrAdd(hang.Value, _ => new TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously));
            aborted.Register(() => recorded.TrySetResult(Stopwatch.GetTimestamp()));
        }
        context.Response.ContentType = "text/event-stream";
        await context.Response.StartAsync(aborted);
        await Task.Delay(firstTokenDelay, aborted);
        if (hang.Success)
        {
            await context.Response.WriteAsync("""data: {"id":"chatcmpl-b","object":"chat.completion.chunk","created":1700000000,"model":"fake-model","choices":[{"index":0,"delta":{"content":"first"},"finish_reason":null}]}""" + "\n\n", aborted);
            await context.Response.Body.FlushAsync(aborted);
            await Task.Delay(Timeout.Infinite, aborted).ContinueWith(_ => { }, TaskScheduler.Default);
            return;
        }
        for (var i = 0; i < 10; i++)
        {
            await context.Response.WriteAsync($$$"""data: {"id":"chatcmpl-b","object":"chat.completion.chunk","created":1700000000,"model":"fake-model","choices":[{"index":0,"delta":{"content":"tok{{{i}}} "},"finish_reason":null}]}""" + "\n\n", aborted);
            await context.Response.Body.FlushAsync(aborted);
        }
        await context.Response.WriteAsync("""data: {"id":"chatcmpl-b","object":"chat.completion.chunk","created":1700000000,"model":"fake-model","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}""" + "\n\ndata: [DONE]\n\n", aborted);
    });
    await app.StartAsync();
    var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
    return (app, new Uri(address));
}

internal sealed partial class Program;
