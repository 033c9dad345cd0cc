using Conductor.Api.AiChat;

namespace Microsoft.Extensions.Hosting;

public static class AiChatExtensions
{
    /// <summary>
    /// Registers AI answers in chat (@ai): options (validated at start-up) and the responder, which also listens on
    /// Redis for stop requests. Needs the AI providers (<c>AddConductorAi</c>), chat and the workspace services.
    /// </summary>
    public static IHostApplicationBuilder AddConductorAiChat(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<AiChatOptions>().Bind(builder.Configuration.GetSection(AiChatOptions.SectionName))
            .ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddSingleton<AiChatResponder>();
        builder.Services.AddHostedService(services => services.GetRequiredService<AiChatResponder>());
        return builder;
    }
}
