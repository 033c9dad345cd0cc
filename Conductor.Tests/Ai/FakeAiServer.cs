using System.Collections.Concurrent;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Conductor.Tests.Ai;

public enum FakeAiKind { OpenAI, Anthropic }

/// <summary>How the fake answers one chat request.</summary>
public sealed record FakeAnswer(IReadOnlyList<string> Tokens)
{
    public TimeSpan FirstTokenDelay { get; init; }
    public TimeSpan TokenDelay { get; init; }
    /// <summary>After this many tokens the connection is aborted (a provider failing mid-stream).</summary>
    public int? AbortAfter { get; init; }
    /// <summary>After the tokens the stream stays open without finishing (for cancellation tests).</summary>
    public bool HangAtEnd { get; init; }
    /// <summary>After the first token the stream waits for this (a turn held mid-stream until the test lets it go).</summary>
    public Task? HoldAfterFirstToken { get; init; }
    public int? Status { get; init; }
    /// <summary>Instead of text, the model calls this tool (function name, arguments as JSON), streamed in pieces.</summary>
    public FakeToolCall? ToolCall { get; init; }

    public static FakeAnswer Text(string text, int pieces = 0) => new(Split(text, pieces));

    public static FakeAnswer Tool(string name, string argumentsJson) => new([]) { ToolCall = new FakeToolCall(name, argumentsJson) };

    private static List<string> Split(string text, int pieces)
    {
        if (pieces <= 1 || text.Length < pieces)
        {
            return [text];
        }
        var size = (text.Length + pieces - 1) / pieces;
        return Enumerable.Range(0, pieces).Select(i => i * size).Where(i => i < text.Length)
            .Select(i => text.Substring(i, Math.Min(size, text.Length - i))).ToList();
    }
}

/// <summary>A tool call as the model streams it.</summary>
public sealed record FakeToolCall(string Name, string ArgumentsJson);

/// <summary>One request the fake saw, and whether its connection was aborted by the client.</summary>
public sealed class FakeRequest(string method, string path, string body, IHeaderDictionary headers)
{
    public string Method { get; } = method;
    public string Path { get; } = path;
    public string Body { get; } = body;
    public string? Authorization { get; } = headers.Authorization.ToString() is { Length: > 0 } a ? a : null;
    public string? ApiKeyHeader { get; } = headers["x-api-key"].ToString() is { Length: > 0 } k ? k : null;
    public IReadOnlyDictionary<string, string> Headers { get; } = headers.ToDictionary(h => h.Key, h => h.Value.ToString(), StringComparer.OrdinalIgnoreCase);
    public TaskCompletionSource ClientAborted { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    /// <summary>When the fake saw the client hang up (<see cref="System.Diagnostics.Stopwatch"/> timestamp), measured on its side.</summary>
    public long AbortedAt { get; private set; }
    /// <summary>When the fake sent its first token (Stopwatch timestamp).</summary>
    public long FirstTokenAt { get; internal set; }

    internal void MarkAborted()
    {
        AbortedAt = System.Diagnostics.Stopwatch.GetTimestamp();
        ClientAborted.TrySetResult();
    }

    public TaskCompletionSource Finished { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    public JsonElement Json => JsonDocument.Parse(Body).RootElement;
}

/// <summary>
/// A real HTTP server on 127.0.0.1 speaking the OpenAI chat-completions or the Anthropic messages wire format,
/// streaming included (SSE), with the models listing the providers' probes call. Tests script its answers, delay or
/// break its streams, and read the requests it received (including whether the client hung up).
/// </summary>
public sealed class FakeAiServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentQueue<FakeRequest> _requests = new();

    private FakeAiServer(FakeAiKind kind, WebApplication app, Uri url)
    {
        Kind = kind;
        _app = app;
        Url = url;
    }

    public FakeAiKind Kind { get; }
    public Uri Url { get; }

    /// <summary>The endpoint a Conductor provider is configured with (OpenAI's includes /v1, as for Ollama or vLLM).</summary>
    public Uri Endpoint => Kind == FakeAiKind.OpenAI ? new Uri(Url, "/v1") : Url;

    /// <summary>Answers chat requests; the argument is the 1-based number of the chat request.</summary>
    public Func<int, FakeAnswer> Answer { get; set; } = _ => FakeAnswer.Text("Hello from the fake provider", 4);

    /// <summary>When set, answers chat requests by what they hold (tests sharing one fake pick their answers by a marker).</summary>
    public Func<FakeRequest, FakeAnswer?>? AnswerRequest { get; set; }

    /// <summary>How long the models listing (the probe) takes to answer.</summary>
    public TimeSpan ModelsDelay { get; set; }
    public int ModelsStatus { get; set; } = 200;

    public IReadOnlyList<FakeRequest> Requests => _requests.ToList();
    public IReadOnlyList<FakeRequest> ChatRequests => _requests.Where(r => r.Method == "POST").ToList();
    private int _chatCount;

    public static async Task<FakeAiServer> StartAsync(FakeAiKind kind)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        FakeAiServer? server = null;
        app.Run(async context => await server!.HandleAsync(context));
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        server = new FakeAiServer(kind, app, new Uri(address));
        return server;
    }

    private async Task HandleAsync(HttpContext context)
    {
        using var reader = new StreamReader(context.Request.Body, Encoding.UTF8);
        var body = await reader.ReadToEndAsync();
        var request = new FakeRequest(context.Request.Method, context.Request.Path, body, context.Request.Headers);
        _requests.Enqueue(request);
        context.RequestAborted.Register(request.MarkAborted);
        try
        {
            if (context.Request.Method == "GET" && context.Request.Path == "/v1/models")
            {
                await Task.Delay(ModelsDelay, context.RequestAborted);
                context.Response.StatusCode = ModelsStatus;
                context.Response.ContentType = "application/json";
                await context.Response.WriteAsync(Kind == FakeAiKind.OpenAI
                    ? """{"object":"list","data":[{"id":"fake-model","object":"model","created":1700000000,"owned_by":"fake"}]}"""
                    : """{"data":[{"id":"fake-claude","type":"model","display_name":"Fake Claude","created_at":"2025-01-01T00:00:00Z"}],"has_more":false,"first_id":"fake-claude","last_id":"fake-claude"}""");
                return;
            }
            var chatPath = Kind == FakeAiKind.OpenAI ? "/v1/chat/completions" : "/v1/messages";
            if (context.Request.Method != "POST" || context.Request.Path != chatPath)
            {
                context.Response.StatusCode = 404;
                return;
            }
            var number = Interlocked.Increment(ref _chatCount);
            var answer = AnswerRequest?.Invoke(request) ?? Answer(number);
            if (answer.Status is { } status)
            {
                context.Response.StatusCode = status;
                context.Response.ContentType = "application/json";
                await context.Response.WriteAsync(Kind == FakeAiKind.OpenAI
                    ? """{"error":{"message":"fake failure","type":"server_error","code":null}}"""
                    : """{"type":"error","error":{"type":"api_error","message":"fake failure"}}""");
                return;
            }
            if (answer.ToolCall is { } call)
            {
                await StreamToolCallAsync(context, call, request);
                return;
            }
            await StreamAsync(context, answer, request);
        }
        catch (OperationCanceledException)
        {
            // The client went away: recorded through RequestAborted.
        }
        finally
        {
            request.Finished.TrySetResult();
        }
    }

    /// <summary>A tool call in the provider's streaming format: arguments arrive in two pieces, then the tool stop reason.</summary>
    private async Task StreamToolCallAsync(HttpContext context, FakeToolCall call, FakeRequest request)
    {
        var aborted = context.RequestAborted;
        context.Response.ContentType = "text/event-stream";
        context.Response.Headers.CacheControl = "no-cache";
        await context.Response.StartAsync(aborted);
        var half = call.ArgumentsJson.Length / 2;
        var (first, second) = (JsonSerializer.Serialize(call.ArgumentsJson[..half]), JsonSerializer.Serialize(call.ArgumentsJson[half..]));
        var name = JsonSerializer.Serialize(call.Name);
        request.FirstTokenAt = System.Diagnostics.Stopwatch.GetTimestamp();
        if (Kind == FakeAiKind.OpenAI)
        {
            await SendAsync(context, null, $$$"""{"id":"chatcmpl-fake","object":"chat.completion.chunk","created":1700000000,"model":"fake-model","choices":[{"index":0,"delta":{"role":"assistant","content":null,"tool_calls":[{"index":0,"id":"call_fake_1","type":"function","function":{"name":{{{name}}},"arguments":""}}]},"finish_reason":null}]}""");
            await SendAsync(context, null, $$$$"""{"id":"chatcmpl-fake","object":"chat.completion.chunk","created":1700000000,"model":"fake-model","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":{{{{first}}}}}}]},"finish_reason":null}]}""");
            await SendAsync(context, null, $$$$"""{"id":"chatcmpl-fake","object":"chat.completion.chunk","created":1700000000,"model":"fake-model","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":{{{{second}}}}}}]},"finish_reason":null}]}""");
            await SendAsync(context, null, """{"id":"chatcmpl-fake","object":"chat.completion.chunk","created":1700000000,"model":"fake-model","choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}""");
            await context.Response.WriteAsync("data: [DONE]\n\n", aborted);
        }
        else
        {
            await SendAsync(context, "message_start", """{"type":"message_start","message":{"id":"msg_fake","type":"message","role":"assistant","model":"fake-claude","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":10,"output_tokens":1}}}""");
            await SendAsync(context, "content_block_start", $$$$"""{"type":"content_block_start","index":0,"content_block":{"type":"tool_use","id":"toolu_fake_1","name":{{{{name}}}},"input":{}}}""");
            await SendAsync(context, "content_block_delta", $$$"""{"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":{{{first}}}}}""");
            await SendAsync(context, "content_block_delta", $$$"""{"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":{{{second}}}}}""");
            await SendAsync(context, "content_block_stop", """{"type":"content_block_stop","index":0}""");
            await SendAsync(context, "message_delta", """{"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},"usage":{"output_tokens":20}}""");
            await SendAsync(context, "message_stop", """{"type":"message_stop"}""");
        }
        await context.Response.Body.FlushAsync(aborted);
    }

    private async Task StreamAsync(HttpContext context, FakeAnswer answer, FakeRequest request)
    {
        var aborted = context.RequestAborted;
        context.Response.ContentType = "text/event-stream";
        context.Response.Headers.CacheControl = "no-cache";
        await context.Response.StartAsync(aborted);
        if (Kind == FakeAiKind.Anthropic)
        {
            await SendAsync(context, "message_start", """{"type":"message_start","message":{"id":"msg_fake","type":"message","role":"assistant","model":"fake-claude","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":10,"output_tokens":1}}}""");
            await SendAsync(context, "content_block_start", """{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}""");
        }
        await Task.Delay(answer.FirstTokenDelay, aborted);
        for (var i = 0; i < answer.Tokens.Count; i++)
        {
            if (answer.AbortAfter == i)
            {
                // Let the tokens already sent reach the client before the connection is reset.
                await Task.Delay(200, aborted);
                context.Abort();
                return;
            }
            if (i > 0 && answer.TokenDelay > TimeSpan.Zero)
            {
                await Task.Delay(answer.TokenDelay, aborted);
            }
            var token = JsonSerializer.Serialize(answer.Tokens[i]);
            if (i == 0)
            {
                request.FirstTokenAt = System.Diagnostics.Stopwatch.GetTimestamp();
            }
            if (Kind == FakeAiKind.OpenAI)
            {
                await SendAsync(context, null, $$$"""{"id":"chatcmpl-fake","object":"chat.completion.chunk","created":1700000000,"model":"fake-model","choices":[{"index":0,"delta":{"role":"assistant","content":{{{token}}}},"finish_reason":null}]}""");
            }
            else
            {
                await SendAsync(context, "content_block_delta", $$$"""{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":{{{token}}}}}""");
            }
            if (i == 0 && answer.HoldAfterFirstToken is { } hold)
            {
                await hold.WaitAsync(aborted);
            }
        }
        if (answer.AbortAfter is { } after && after >= answer.Tokens.Count)
        {
            context.Abort();
            return;
        }
        if (answer.HangAtEnd)
        {
            await Task.Delay(Timeout.Infinite, aborted);
        }
        if (Kind == FakeAiKind.OpenAI)
        {
            await SendAsync(context, null, """{"id":"chatcmpl-fake","object":"chat.completion.chunk","created":1700000000,"model":"fake-model","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}""");
            await context.Response.WriteAsync("data: [DONE]\n\n", aborted);
        }
        else
        {
            await SendAsync(context, "content_block_stop", """{"type":"content_block_stop","index":0}""");
            await SendAsync(context, "message_delta", """{"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":15}}""");
            await SendAsync(context, "message_stop", """{"type":"message_stop"}""");
        }
        await context.Response.Body.FlushAsync(aborted);
    }

    private static async Task SendAsync(HttpContext context, string? eventName, string data)
    {
        var frame = eventName is null ? $"data: {data}\n\n" : $"event: {eventName}\ndata: {data}\n\n";
        await context.Response.WriteAsync(frame, context.RequestAborted);
        await context.Response.Body.FlushAsync(context.RequestAborted);
    }

    public async ValueTask DisposeAsync()
    {
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(2));
        await _app.StopAsync(stop.Token);
        await _app.DisposeAsync();
    }
}
