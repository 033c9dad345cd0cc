using Microsoft.Extensions.Options;

namespace Conductor.Api.Ai;

public static class AiExtensions
{
    public static IHostApplicationBuilder AddConductorAi(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<AiOptions>().Bind(builder.Configuration.GetSection(AiOptions.Section)).ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<AiOptions>, AiOptionsValidator>();
        builder.Services.AddSingleton<AiProviderCatalog>();
        builder.Services.AddSingleton<AiProviderStatusBoard>();
        builder.Services.AddSingleton<AiSelections>();
        builder.Services.AddHostedService<AiProbeService>();
        return builder;
    }
}
