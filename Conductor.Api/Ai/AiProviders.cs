using System.ClientModel;
using System.ClientModel.Primitives;
using System.Collections.Concurrent;
using Anthropic;
using Anthropic.Exceptions;
using Anthropic.Models.Models;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Options;
using OpenAI;
using OpenAI.Models;

namespace Conductor.Api.Ai;

/// <summary>One configured provider: its chat client and a cheap call that tells whether it answers.</summary>
public sealed class AiProvider(string name, string kind, string model, IChatClient client, Func<CancellationToken, Task> probe)
{
    public string Name { get; } = name;
    public string Kind { get; } = kind;
    public string Model { get; } = model;
    public IChatClient Client { get; } = client;
    internal Func<CancellationToken, Task> Probe { get; } = probe;
}

/// <summary>Every configured provider (plus the built-in mock), built once from <see cref="AiOptions"/>.</summary>
public sealed class AiProviderCatalog : IDisposable
{
    private static readonly Uri OpenAIDefaultEndpoint = new("https://api.openai.com/v1");
    private static readonly Uri AnthropicDefaultEndpoint = new("https://api.anthropic.com");

    private readonly Dictionary<string, AiProvider> _providers = new(StringComparer.OrdinalIgnoreCase);
    private readonly List<HttpClient> _httpClients = [];

    public AiProviderCatalog(IOptions<AiOptions> options)
    {
        var ai = options.Value;
        foreach (var (name, provider) in ai.Providers.OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            _providers[name] = Build(name.ToLowerInvariant(), provider, ai);
        }
        if (!_providers.ContainsKey(AiOptions.MockProviderName))
        {
            _providers[AiOptions.MockProviderName] = BuildMock(AiOptions.MockProviderName);
        }
        DefaultProvider = ai.DefaultProvider?.ToLowerInvariant()
            ?? ai.Providers.Where(p => p.Value.Kind.Trim().ToLowerInvariant() != AiProviderKinds.Mock && !string.IsNullOrEmpty(p.Value.ApiKey))
                .Select(p => p.Key.ToLowerInvariant()).Order(StringComparer.Ordinal).FirstOrDefault()
            ?? AiOptions.MockProviderName;
    }

    /// <summary>What every user gets until they select another provider.</summary>
    public string DefaultProvider { get; }

    public IReadOnlyCollection<AiProvider> All => _providers.Values;

    public AiProvider? Find(string name) => _providers.GetValueOrDefault(name);

    private AiProvider Build(string name, AiProviderOptions options, AiOptions ai)
    {
        var kind = options.Kind.Trim().ToLowerInvariant();
        var model = options.Model?.Trim() ?? MockChatClient.Model;
        switch (kind)
        {
            case AiProviderKinds.OpenAI:
                {
                    var endpoint = options.Endpoint ?? OpenAIDefaultEndpoint;
                    // Local OpenAI-compatible servers (Ollama, LM Studio, vLLM) take no key, but the SDK insists on one.
                    var credential = new ApiKeyCredential(string.IsNullOrEmpty(options.ApiKey) ? "no-key" : options.ApiKey);
                    var clientOptions = new OpenAIClientOptions
                    {
                        Endpoint = endpoint,
                        NetworkTimeout = ai.RequestTimeout,
                        // Retries are ours to decide (generate-changes retries once); the SDK's would hide failures.
                        RetryPolicy = new ClientRetryPolicy(maxRetries: 0),
                        Transport = new HttpClientPipelineTransport(CreateHttpClient()),
                    };
                    var chat = new OpenAI.Chat.ChatClient(model, credential, clientOptions);
                    var models = new OpenAIModelClient(credential, clientOptions);
                    // Microsoft.Extensions.AI.OpenAI's IChatClient over the official SDK (streaming, JSON-schema output).
                    return new AiProvider(name, kind, model, chat.AsIChatClient(),
                        async ct => await models.GetModelsAsync(ct));
                }
            case AiProviderKinds.Anthropic:
                {
                    var endpoint = options.Endpoint ?? AnthropicDefaultEndpoint;
                    var http = CreateHttpClient();
                    var client = new AnthropicClient
                    {
                        ApiKey = string.IsNullOrEmpty(options.ApiKey) ? "no-key" : options.ApiKey,
                        BaseUrl = endpoint.ToString().TrimEnd('/'),
                        MaxRetries = 0,
                        Timeout = ai.RequestTimeout,
                        HttpClient = http,
                    };
                    return new AiProvider(name, kind, model, client.AsIChatClient(model, ai.MaxOutputTokens),
                        async ct => await client.Models.List(new ModelListParams(), ct));
                }
            default:
                return BuildMock(name);
        }
    }

    /// <summary>
    /// The providers' HTTP client. When a stream is cancelled (a browser closed /ai/infer), HttpClient by default keeps
    /// reading the response for up to 2 s to reuse the connection, so the provider keeps generating; with no drain the
    /// connection is closed at once and the provider sees the abort within a millisecond (docs/ai.md).
    /// </summary>
    private HttpClient CreateHttpClient()
    {
        var http = new HttpClient(new SocketsHttpHandler
        {
            MaxResponseDrainSize = 0,
            ResponseDrainTimeout = TimeSpan.Zero,
            PooledConnectionLifetime = TimeSpan.FromMinutes(5),
        })
        {
            // The SDKs apply RequestTimeout themselves.
            Timeout = Timeout.InfiniteTimeSpan,
        };
        _httpClients.Add(http);
        return http;
    }

    private static AiProvider BuildMock(string name) =>
        new(name, AiProviderKinds.Mock, MockChatClient.Model, new MockChatClient(name), _ => Task.CompletedTask);

    /// <summary>
    /// A provider failure as users may see it: the status code or the kind of network failure, never the raw
    /// exception text (an SDK can echo request details).
    /// </summary>
    public static string Describe(Exception exception) => exception switch
    {
        ClientResultException { Status: > 0 } e => $"the provider answered HTTP {e.Status}",
        AnthropicApiException e => $"the provider answered HTTP {(int)e.StatusCode}",
        HttpRequestException { HttpRequestError: var error } => $"the provider could not be reached ({error})",
        TimeoutException or TaskCanceledException or OperationCanceledException => "the provider did not answer in time",
        IOException => "the connection to the provider broke",
        System.Text.Json.JsonException or FormatException => "the provider sent a malformed response",
        _ when exception.InnerException is { } inner => Describe(inner),
        _ => $"the provider call failed ({exception.GetType().Name})",
    };

    public void Dispose()
    {
        foreach (var provider in _providers.Values)
        {
            provider.Client.Dispose();
        }
        foreach (var http in _httpClients)
        {
            http.Dispose();
        }
    }
}

public sealed record AiProbeResult(bool Available, long? LatencyMs, string? Error, DateTimeOffset? CheckedAt);

/// <summary>The latest probe result per provider, written by <see cref="AiProbeService"/>, read by the endpoints.</summary>
public sealed class AiProviderStatusBoard
{
    private readonly ConcurrentDictionary<string, AiProbeResult> _results = new(StringComparer.OrdinalIgnoreCase);

    public AiProbeResult Get(AiProvider provider) =>
        _results.TryGetValue(provider.Name, out var result) ? result
        : new AiProbeResult(false, null, "not probed yet", null);

    internal void Set(string name, AiProbeResult result) => _results[name] = result;
}

/// <summary>Probes every provider now and then so /ai/status answers from memory, not by calling providers per request.</summary>
internal sealed partial class AiProbeService(AiProviderCatalog catalog, AiProviderStatusBoard board, IOptions<AiOptions> options,
    TimeProvider time, ILogger<AiProbeService> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.ProbeInterval, time);
        do
        {
            await Task.WhenAll(catalog.All.Select(p => ProbeAsync(p, stoppingToken)));
        }
        while (await WaitAsync(timer, stoppingToken));
    }

    private static async Task<bool> WaitAsync(PeriodicTimer timer, CancellationToken stoppingToken)
    {
        try
        {
            return await timer.WaitForNextTickAsync(stoppingToken);
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    internal async Task ProbeAsync(AiProvider provider, CancellationToken stoppingToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
        timeout.CancelAfter(options.Value.ProbeTimeout);
        var started = time.GetTimestamp();
        AiProbeResult result;
        try
        {
            await provider.Probe(timeout.Token);
            result = new AiProbeResult(true, (long)time.GetElapsedTime(started).TotalMilliseconds, null, time.GetUtcNow());
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            return;
        }
        catch (Exception ex)
        {
            result = new AiProbeResult(false, null, AiProviderCatalog.Describe(ex), time.GetUtcNow());
        }
        var previous = board.Get(provider);
        board.Set(provider.Name, result);
        if (previous.Available != result.Available || previous.CheckedAt is null)
        {
            LogProbe(provider.Name, provider.Kind, result.Available, result.LatencyMs, result.Error);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "AI provider {Provider} ({Kind}) available: {Available}, latency {LatencyMs} ms, error: {Error}")]
    private partial void LogProbe(string provider, string kind, bool available, long? latencyMs, string? error);
}
