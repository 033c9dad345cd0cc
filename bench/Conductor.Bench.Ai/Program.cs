using System.Diagnostics;
using System.Net.Http.Headers;
using System.Net.Http.Json;
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

// Time to first token (TTFT) through Conductor's /ai/infer, over the TTFT of the same fake OpenAI-compatible provider
// called directly, in the same run: private Postgres and Redis (the AppHost's provisioning code), a fake provider on
// 127.0.0.1 with a fixed first-token delay, and a real Api process. Runs are interleaved; the whole run is bounded.

var runs = args.Length > 0 ? int.Parse(args[0], System.Globalization.CultureInfo.InvariantCulture) : 30;
var firstTokenDelay = TimeSpan.FromMilliseconds(50);
const string Key = "bench-not-a-real-key";
using var deadline = new CancellationTokenSource(TimeSpan.FromMinutes(3));
var ct = deadline.Token;

ThrowawayServers? servers = null;
WebApplication? fake = null;
Process? api = null;
try
{
    servers = await ThrowawayServers.StartAsync("bench-ai", ct);
    var (postgres, redis) = (servers.Postgres, servers.Redis);
    (fake, var fakeUrl) = await StartFakeOpenAIAsync(firstTokenDelay);

    var apiDll = typeof(Program).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == "ApiAssembly").Value!;
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
    Console.WriteLine($"ratio (median /ai/infer over median direct): {Median(through) / Median(direct):0.00}x, overhead {Median(through) - Median(direct):0.0} ms");
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

static void Report(string name, List<double> samples)
{
    var sorted = samples.Order().ToList();
    Console.WriteLine($"{name,-24} {Median(samples),10:0.0} {sorted[(int)Math.Ceiling(sorted.Count * 0.9) - 1],10:0.0} {sorted[0],10:0.0}");
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
// before the first token and 10 tokens in all.
static async Task<(WebApplication App, Uri Url)> StartFakeOpenAIAsync(TimeSpan firstTokenDelay)
{
    var builder = WebApplication.CreateSlimBuilder();
    builder.WebHost.UseUrls("http://127.0.0.1:0");
    builder.Logging.ClearProviders();
    var app = builder.Build();
    app.MapGet("/v1/models", () => Results.Text("""{"object":"list","data":[{"id":"fake-model","object":"model","created":1700000000,"owned_by":"fake"}]}""", "application/json"));
    app.MapPost("/v1/chat/completions", async (HttpContext context) =>
    {
        var aborted = context.RequestAborted;
        await context.Request.Body.CopyToAsync(Stream.Null, aborted);
        context.Response.ContentType = "text/event-stream";
        await context.Response.StartAsync(aborted);
        await Task.Delay(firstTokenDelay, aborted);
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
