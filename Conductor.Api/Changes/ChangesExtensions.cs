using Conductor.Api.Audit;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Conductor.Api.Changes;

/// <summary>Registers the change-generation, policy, apply and audit services.</summary>
public static class ChangesExtensions
{
    public static IHostApplicationBuilder AddConductorChanges(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<ChangeOptions>().Bind(builder.Configuration.GetSection(ChangeOptions.Section))
            .Validate(o => o.MaxInstructionChars > 0 && o.MaxContextFiles > 0 && o.MaxContextChars > 0, "Changes limits must be positive.")
            .ValidateOnStart();
        builder.Services.AddOptions<PolicyOptions>().Bind(builder.Configuration.GetSection(PolicyOptions.Section)).ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<PolicyOptions>, PolicyOptionsValidator>();
        builder.Services.AddSingleton<PolicyEvaluator>();
        builder.Services.AddSingleton<ChangeGenerator>();
        builder.Services.AddSingleton<ChangeStore>();
        builder.Services.AddSingleton<ChangeApplier>();
        builder.Services.AddSingleton<ChangeEvents>();
        builder.Services.AddSingleton<ChangeProposals>();
        builder.Services.AddSingleton<AuditLog>();
        // Over the workspace feature's file service (AddConductorWorkspaces).
        builder.Services.TryAddSingleton<IWorkspaceFiles, WorkspaceFilesAdapter>();
        return builder;
    }
}
