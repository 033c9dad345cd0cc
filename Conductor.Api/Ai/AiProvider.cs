using Microsoft.Extensions.AI;
using Microsoft.SemanticKernel;
using Microsoft.SemanticKernel.ChatCompletion;
using Microsoft.SemanticKernel.Connectors.OpenAI;

namespace Conductor.Api.Ai;

/// <summary>
/// One configured provider: a Semantic Kernel chat completion service and a cheap call that tells whether it answers.
/// This is the lookup other features build on (chat answers, change generation, agent conversations): find a provider
/// through <see cref="AiProviderCatalog.Find"/> or <see cref="AiSelections.GetActiveAsync"/>, then stream from
/// <see cref="ChatCompletion"/> with settings from <see cref="CreateSettings"/>, or use <see cref="AsChatClient"/> where a
/// Microsoft.Extensions.AI <see cref="IChatClient"/> is wanted (Microsoft.Agents.AI agents).
/// </summary>
public sealed class AiProvider(string name, string kind, string model, IChatCompletionService chatCompletion, Func<CancellationToken, Task> probe)
{
    public string Name { get; } = name;
    public string Kind { get; } = kind;
    public string Model { get; } = model;

    /// <summary>The provider as Semantic Kernel sees it; with a <see cref="Kernel"/> its functions become tools.</summary>
    public IChatCompletionService ChatCompletion { get; } = chatCompletion;

    internal Func<CancellationToken, Task> Probe { get; } = probe;

    /// <summary>
    /// The same service as a Microsoft.Extensions.AI chat client (SK's adapter), for agent frameworks; instructions in
    /// the chat options reach the provider as a system message (the adapter alone would drop them).
    /// </summary>
    public IChatClient AsChatClient() => new InstructionsAsSystemMessageChatClient(ChatCompletion.AsChatClient());

    /// <summary>
    /// Execution settings in the connector's own terms: the OpenAI connector's settings (its JSON-schema response
    /// format is the OpenAI SDK's, strict), or SK's generic settings that its IChatClient bridge turns into
    /// <see cref="ChatOptions"/> for Anthropic and the mock.
    /// </summary>
    /// <param name="maxOutputTokens">null: the provider's default (Anthropic's is <see cref="AiOptions.MaxOutputTokens"/>).</param>
    public PromptExecutionSettings CreateSettings(int? maxOutputTokens, double? temperature = null, AiJsonSchema? schema = null,
        FunctionChoiceBehavior? functions = null)
    {
        if (Kind == AiProviderKinds.OpenAI)
        {
            return new OpenAIPromptExecutionSettings
            {
                MaxTokens = maxOutputTokens,
                Temperature = temperature,
                ResponseFormat = schema is null ? null
                    : OpenAI.Chat.ChatResponseFormat.CreateJsonSchemaFormat(schema.Name, BinaryData.FromString(schema.Schema.GetRawText()),
                        schema.Description, jsonSchemaIsStrict: true),
                FunctionChoiceBehavior = functions,
            };
        }
        var extension = new Dictionary<string, object>();
        if (maxOutputTokens is { } max)
        {
            extension["max_tokens"] = max;
        }
        if (temperature is { } t)
        {
            extension["temperature"] = t;
        }
        if (schema is not null)
        {
            // SK's bridge maps a JsonElement response_format to ChatResponseFormat.ForJsonSchema.
            extension["response_format"] = schema.Schema;
        }
        return new PromptExecutionSettings { ExtensionData = extension, FunctionChoiceBehavior = functions };
    }
}
