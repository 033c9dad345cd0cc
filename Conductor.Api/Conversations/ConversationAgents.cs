using System.Runtime.CompilerServices;
using Conductor.Api.Ai;
using Microsoft.Agents.AI;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Options;

namespace Conductor.Api.Conversations;

/// <summary>
/// The bots' agents: Microsoft Agent Framework's <see cref="ChatClientAgent"/> over the provider's
/// <see cref="IChatClient"/>. This is the conversations feature's only contact with the AI providers (the provider
/// lookup by name), so a change in how providers are built touches this class alone.
/// </summary>
public sealed class ConversationAgents(AiProviderCatalog catalog, IOptions<AiOptions> options, ILoggerFactory loggers)
{
    public IReadOnlyList<string> ProviderNames => catalog.All.Select(p => p.Name).Order(StringComparer.Ordinal).ToList();

    /// <summary>The provider's configured model, or null when no provider has that name.</summary>
    public string? DefaultModel(string provider) => catalog.Find(provider)?.Model;

    /// <summary>The canonical (configured) spelling of a provider name, or null when unknown.</summary>
    public string? Canonical(string provider) => catalog.Find(provider)?.Name;

    /// <summary>
    /// Streams one turn of <paramref name="bot"/>: the topic, then every earlier turn (its own as the assistant's,
    /// the others' as user messages naming their bot), with the bot's instructions and model.
    /// </summary>
    public async IAsyncEnumerable<string> StreamTurnAsync(ConversationBot bot, int botIndex, string topic, IReadOnlyList<ConversationTurn> history,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var provider = catalog.Find(bot.Provider) ?? throw new ConversationProviderException($"the provider '{bot.Provider}' is no longer configured");
        var agent = new ChatClientAgent(provider.AsChatClient(), instructions: bot.Instructions, name: bot.Name, loggerFactory: loggers);
        var messages = new List<ChatMessage> { new(ChatRole.User, $"Topic: {topic}") };
        foreach (var turn in history)
        {
            messages.Add(turn.BotIndex == botIndex
                ? new ChatMessage(ChatRole.Assistant, turn.Content)
                : new ChatMessage(ChatRole.User, $"{turn.BotName}: {turn.Content}"));
        }
        var runOptions = new ChatClientAgentRunOptions(new ChatOptions
        {
            ModelId = bot.Model,
            MaxOutputTokens = options.Value.MaxOutputTokens,
        });
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(options.Value.RequestTimeout);
        await foreach (var update in agent.RunStreamingAsync(messages, session: null, options: runOptions, cancellationToken: timeout.Token))
        {
            if (!string.IsNullOrEmpty(update.Text))
            {
                yield return update.Text;
            }
        }
    }

    /// <summary>A provider failure as users may see it (never the SDK's exception text).</summary>
    public static string Describe(Exception exception) =>
        exception is ConversationProviderException ? exception.Message : AiProviderCatalog.Describe(exception);
}
