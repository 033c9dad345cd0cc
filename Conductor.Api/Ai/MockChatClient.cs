using System.Runtime.CompilerServices;
using Microsoft.Extensions.AI;
using AIChatMessage = Microsoft.Extensions.AI.ChatMessage;
using AIChatRole = Microsoft.Extensions.AI.ChatRole;

namespace Conductor.Api.Ai;

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
