using System.ClientModel;
using System.ClientModel.Primitives;
using Anthropic;
using Anthropic.Exceptions;
using Anthropic.Models.Models;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Options;
using Microsoft.SemanticKernel;
using Microsoft.SemanticKernel.ChatCompletion;
using Microsoft.SemanticKernel.Connectors.OpenAI;
using OpenAI;

namespace Conductor.Api.Ai;

/// <summary>Every configured provider (plus the built-in mock), built once from <see cref="AiOptions"/>.</summary>
public sealed class AiProviderCatalog : IDisposable
{
    private static readonly Uri OpenAIDefaultEndpoint = new("https://api.openai.com/v1");
    private static readonly Uri AnthropicDefaultEndpoint = new("https://api.anthropic.com");

    private readonly Dictionary<string, AiProvider> _providers = new(StringComparer.OrdinalIgnoreCase);
    private readonly List<IDisposable> _owned = [];

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
                    var openai = new OpenAIClient(credential, clientOptions);
                    var models = openai.GetOpenAIModelClient();
                    // Semantic Kernel's OpenAI connector over the official SDK client (streaming, JSON-schema output,
                    // function calling); our transport keeps the no-drain cancellation.
                    return new AiProvider(name, kind, model, new OpenAIChatCompletionService(model, openai),
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
                    // The official SDK's IChatClient, bridged into SK; SK's function-invoking client runs kernel
                    // functions the model calls (the OpenAI connector does that itself).
                    var chat = client.AsIChatClient(model, ai.MaxOutputTokens).AsBuilder().UseKernelFunctionInvocation().Build();
                    _owned.Add(chat);
                    return new AiProvider(name, kind, model, chat.AsChatCompletionService(),
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
        _owned.Add(http);
        return http;
    }

    private static AiProvider BuildMock(string name) =>
        new(name, AiProviderKinds.Mock, MockChatClient.Model, new MockChatClient(name).AsChatCompletionService(), _ => Task.CompletedTask);

    /// <summary>
    /// A provider failure as users may see it: the status code or the kind of network failure, never the raw
    /// exception text (an SDK can echo request details).
    /// </summary>
    public static string Describe(Exception exception) => exception switch
    {
        ClientResultException { Status: > 0 } e => $"the provider answered HTTP {e.Status}",
        HttpOperationException { StatusCode: { } status } => $"the provider answered HTTP {(int)status}",
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
        foreach (var owned in _owned)
        {
            owned.Dispose();
        }
    }
}
