using Microsoft.Extensions.AI;

namespace Conductor.Api.Ai;

/// <summary>
/// Moves <see cref="ChatOptions.Instructions"/> into a leading system message. Semantic Kernel's
/// IChatCompletionService-to-IChatClient adapter has no place for instructions (its execution settings carry none), so
/// without this the instructions Microsoft.Agents.AI puts there (an agent's, a bot's) would never reach the provider.
/// </summary>
internal sealed class InstructionsAsSystemMessageChatClient(IChatClient inner) : DelegatingChatClient(inner)
{
    public override Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        var (moved, rest) = Move(messages, options);
        return base.GetResponseAsync(moved, rest, cancellationToken);
    }

    public override IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        var (moved, rest) = Move(messages, options);
        return base.GetStreamingResponseAsync(moved, rest, cancellationToken);
    }

    private static (IEnumerable<ChatMessage> Messages, ChatOptions? Options) Move(IEnumerable<ChatMessage> messages, ChatOptions? options)
    {
        if (string.IsNullOrEmpty(options?.Instructions))
        {
            return (messages, options);
        }
        var rest = options.Clone();
        rest.Instructions = null;
        return ([new ChatMessage(ChatRole.System, options.Instructions), .. messages], rest);
    }
}
