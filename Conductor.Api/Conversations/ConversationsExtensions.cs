using Microsoft.Extensions.Options;

namespace Conductor.Api.Conversations;

/// <summary>Registers agent conversations: validated options, the store, the agents, the runner and its recovery.</summary>
public static class ConversationsExtensions
{
    public static IHostApplicationBuilder AddConductorConversations(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<ConversationOptions>().Bind(builder.Configuration.GetSection(ConversationOptions.Section)).ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<ConversationOptions>, ConversationOptionsValidator>();
        builder.Services.AddSingleton<ConversationStore>();
        builder.Services.AddSingleton<ConversationAgents>();
        builder.Services.AddSingleton<ConversationRelay>();
        builder.Services.AddSingleton<ConversationRunner>();
        builder.Services.AddHostedService<ConversationRecovery>();
        return builder;
    }
}
