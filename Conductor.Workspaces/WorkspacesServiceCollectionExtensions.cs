using Conductor.Jobs;
using Conductor.Workspaces.Files;
using Conductor.Workspaces.Git;
using Conductor.Workspaces.GitRemote;
using Conductor.Workspaces.Personal;
using Conductor.Workspaces.Search;
using Conductor.Workspaces.SourceControl;
using Conductor.Workspaces.Sync;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Conductor.Workspaces;

public static class WorkspacesServiceCollectionExtensions
{
    /// <summary>
    /// Workspace services for the Api and the GitWorker, configured from the <c>Workspaces</c> section (validated at
    /// start-up). Needs <c>AddConductorDatabase</c>, <c>AddConductorRedis</c> and <c>AddConductorJobQueue</c>.
    /// </summary>
    public static IHostApplicationBuilder AddConductorWorkspaces(this IHostApplicationBuilder builder)
    {
        builder.Services.TryAddSingleton(TimeProvider.System);
        builder.Services.AddOptions<WorkspaceOptions>().Bind(builder.Configuration.GetSection(WorkspaceOptions.SectionName))
            // Unset (a service started on its own, another feature's tests): a per-machine folder, so the Api and the
            // GitWorker on one machine still share it. The AppHost always sets it; a deployment must (shared volume).
            .PostConfigure(o => o.Root = string.IsNullOrWhiteSpace(o.Root) ? Path.Combine(Path.GetTempPath(), "conductor-workspaces") : o.Root)
            .ValidateOnStart();
        builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<WorkspaceOptions>, WorkspaceOptionsValidator>());
        builder.Services.TryAddSingleton<GitCli>();
        builder.Services.TryAddSingleton<WorkspaceRepository>();
        builder.Services.TryAddSingleton<WorkspaceCredentials>();
        builder.Services.TryAddSingleton<WorkspaceLocks>();
        builder.Services.TryAddSingleton<WorkspaceEvents>();
        builder.Services.TryAddSingleton<WorkspaceCommands>();
        builder.Services.TryAddSingleton<WorkspaceFileService>();
        builder.Services.TryAddSingleton<WorkspaceProvisioner>();
        builder.Services.TryAddSingleton<CodeSearch>();
        builder.Services.TryAddSingleton<RoomReachability>();
        builder.Services.TryAddSingleton<SearchIndexes>();
        builder.Services.TryAddSingleton<WorkspaceSourceControl>();
        builder.Services.TryAddSingleton<PersonalWorktrees>();
        builder.Services.TryAddSingleton<WorkspaceSync>();
        builder.Services.TryAddSingleton<PushedRoom>();
        return builder;
    }
}
