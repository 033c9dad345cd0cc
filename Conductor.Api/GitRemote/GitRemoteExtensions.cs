using Conductor.Api.Workspaces;

namespace Conductor.Api.GitRemote;

public static class GitRemoteExtensions
{
    /// <summary>The rooms' git remote and members' syncs (issue 17). Needs auth, rooms and workspaces.</summary>
    public static IHostApplicationBuilder AddConductorGitRemote(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<GitRemoteOptions>().Bind(builder.Configuration.GetSection(GitRemoteOptions.SectionName))
            .ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddSingleton<GitCredentialCheck>();
        builder.Services.AddSingleton<GitHttpBackend>();
        builder.Services.AddSingleton<GitPushAccess>();
        builder.Services.AddSingleton<WorkspaceSyncEvents>();
        return builder;
    }
}
