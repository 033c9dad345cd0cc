using System.Buffers;
using System.Text;
using System.Text.Json;
using Conductor.Api.Auth;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using Microsoft.SemanticKernel.ChatCompletion;

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
