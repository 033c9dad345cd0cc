using System.ClientModel;
using System.Runtime.CompilerServices;
using Microsoft.Extensions.AI;
using OpenAI.Chat;
using AIChatMessage = Microsoft.Extensions.AI.ChatMessage;
using AIChatRole = Microsoft.Extensions.AI.ChatRole;
using AIResponseFormat = Microsoft.Extensions.AI.ChatResponseFormat;

namespace Conductor.Api.Ai;

/// <summary>
/// A thin <see cref="IChatClient"/> over the official OpenAI SDK's <see cref="ChatClient"/> (Microsoft.Extensions.AI.OpenAI,
/// which would provide this, does not restore here). It maps only what Conductor uses: text messages, max tokens,
/// temperature and a JSON-schema response format.
/// </summary>
internal sealed class OpenAIChatClientAdapter(ChatClient client, string providerName, Uri endpoint, string model) : IChatClient
{
    private readonly ChatClientMetadata _metadata = new(providerName, endpoint, model);

    public async Task<ChatResponse> GetResponseAsync(IEnumerable<AIChatMessage> messages, ChatOptions? options = null,
        CancellationToken cancellationToken = default) =>
        await GetStreamingResponseAsync(messages, options, cancellationToken).ToChatResponseAsync(cancellationToken);

    public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<AIChatMessage> messages,
        ChatOptions? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var updates = client.CompleteChatStreamingAsync(ToOpenAI(messages), ToOpenAI(options), cancellationToken);
        await foreach (var update in updates.WithCancellation(cancellationToken))
        {
            foreach (var part in update.ContentUpdate)
            {
                if (part.Kind == ChatMessageContentPartKind.Text && !string.IsNullOrEmpty(part.Text))
                {
                    yield return new ChatResponseUpdate(AIChatRole.Assistant, part.Text)
                    {
                        ModelId = update.Model,
                        ResponseId = update.CompletionId,
                    };
                }
            }
            if (update.FinishReason is { } finish)
            {
                yield return new ChatResponseUpdate { Role = AIChatRole.Assistant, FinishReason = ToFinishReason(finish), ModelId = update.Model };
            }
        }
    }

    public object? GetService(Type serviceType, object? serviceKey = null) =>
        serviceKey is not null ? null
        : serviceType == typeof(ChatClientMetadata) ? _metadata
        : serviceType.IsInstanceOfType(this) ? this
        : serviceType.IsInstanceOfType(client) ? client
        : null;

    public void Dispose()
    {
    }

    private static List<OpenAI.Chat.ChatMessage> ToOpenAI(IEnumerable<AIChatMessage> messages)
    {
        var result = new List<OpenAI.Chat.ChatMessage>();
        foreach (var message in messages)
        {
            var text = message.Text;
            if (message.Role == AIChatRole.System)
            {
                result.Add(new SystemChatMessage(text));
            }
            else if (message.Role == AIChatRole.Assistant)
            {
                result.Add(new AssistantChatMessage(text));
            }
            else
            {
                result.Add(new UserChatMessage(text));
            }
        }
        return result;
    }

    private static ChatCompletionOptions ToOpenAI(ChatOptions? options)
    {
        var result = new ChatCompletionOptions();
        if (options is null)
        {
            return result;
        }
        if (options.MaxOutputTokens is { } maxTokens)
        {
            result.MaxOutputTokenCount = maxTokens;
        }
        if (options.Temperature is { } temperature)
        {
            result.Temperature = temperature;
        }
        result.ResponseFormat = options.ResponseFormat switch
        {
            ChatResponseFormatJson { Schema: { } schema } json => OpenAI.Chat.ChatResponseFormat.CreateJsonSchemaFormat(
                json.SchemaName ?? "response", BinaryData.FromString(schema.GetRawText()), json.SchemaDescription, jsonSchemaIsStrict: true),
            ChatResponseFormatJson => OpenAI.Chat.ChatResponseFormat.CreateJsonObjectFormat(),
            _ => null,
        };
        return result;
    }

    private static Microsoft.Extensions.AI.ChatFinishReason ToFinishReason(OpenAI.Chat.ChatFinishReason reason) => reason switch
    {
        OpenAI.Chat.ChatFinishReason.Length => Microsoft.Extensions.AI.ChatFinishReason.Length,
        OpenAI.Chat.ChatFinishReason.ContentFilter => Microsoft.Extensions.AI.ChatFinishReason.ContentFilter,
        OpenAI.Chat.ChatFinishReason.ToolCalls or OpenAI.Chat.ChatFinishReason.FunctionCall => Microsoft.Extensions.AI.ChatFinishReason.ToolCalls,
        _ => Microsoft.Extensions.AI.ChatFinishReason.Stop,
    };
}

/// <summary>Deterministic, offline provider: echoes a fixed-form answer word by word. Used in development and tests.</summary>
internal sealed class MockChatClient(string providerName) : IChatClient
{
    public const string Model = "mock-v1";
    private readonly ChatClientMetadata _metadata = new(providerName, null, Model);

    public async Task<ChatResponse> GetResponseAsync(IEnumerable<AIChatMessage> messages, ChatOptions? options = null,
        CancellationToken cancellationToken = default) =>
        await GetStreamingResponseAsync(messages, options, cancellationToken).ToChatResponseAsync(cancellationToken);

    public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<AIChatMessage> messages,
        ChatOptions? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var prompt = messages.LastOrDefault(m => m.Role == AIChatRole.User)?.Text ?? "";
        foreach (var token in Answer(prompt))
        {
            cancellationToken.ThrowIfCancellationRequested();
            await Task.Yield();
            yield return new ChatResponseUpdate(AIChatRole.Assistant, token) { ModelId = Model };
        }
    }

    /// <summary>The tokens the mock streams for a prompt: always the same for the same prompt.</summary>
    public static IEnumerable<string> Answer(string prompt)
    {
        var words = prompt.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
        yield return "Mock";
        yield return " answer";
        yield return $" ({words.Length} words):";
        foreach (var word in words.Take(64))
        {
            yield return " " + word;
        }
    }

    public object? GetService(Type serviceType, object? serviceKey = null) =>
        serviceKey is not null ? null
        : serviceType == typeof(ChatClientMetadata) ? _metadata
        : serviceType.IsInstanceOfType(this) ? this
        : null;

    public void Dispose()
    {
    }
}
