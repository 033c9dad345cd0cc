using Conductor.Workspaces.Git;
using Conductor.Workspaces.Sync;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Conductor.Workspaces.Personal;

/// <summary>
/// Members' own worktrees: each on branch <c>session/{room_id}-{login}</c> (see <see cref="PersonalWorktreeNames"/>),
/// started from the room's branch the first time it is used, in the room's store (no second copy of the objects).
/// The same worktree habits of libgit2 apply as for the room's worktree (docs/workspaces.md): the worktree's name has
/// no '/', the branch named after it is deleted at once, and a worktree whose folder is gone is pruned by hand.
/// </summary>
public sealed partial class PersonalWorktrees(
    WorkspaceRepository repository,
    WorkspaceLocks locks,
    IOptions<WorkspaceOptions> options,
    ILogger<PersonalWorktrees> logger)
{
    private readonly WorkspaceOptions _options = options.Value;

    /// <summary>The ready workspace of the room (404 without one, 409 while it is not ready).</summary>
    public async Task<WorkspaceRecord> RequireReadyAsync(Guid roomId, CancellationToken cancellationToken)
    {
        var workspace = await repository.GetAsync(roomId, cancellationToken).ConfigureAwait(false) ?? throw WorkspaceException.NoWorkspace();
        return workspace.Status == WorkspaceStatus.Ready ? workspace : throw WorkspaceException.NotReady(workspace.Status);
    }

    public string StorePath(WorkspaceRecord workspace) => Path.Combine(_options.StoresPath, workspace.StoreId + ".git");

    public string SharedWorktreePath(Guid roomId) => Path.Combine(_options.WorktreesPath, roomId.ToString("D"));

    /// <summary>The member's worktree folder, created from the room's branch if it does not exist yet.</summary>
    public async Task<string> EnsureAsync(Guid roomId, string login, CancellationToken cancellationToken)
    {
        if (!PersonalWorktreeNames.IsValidLogin(login))
        {
            throw new WorkspaceException(WorkspaceErrorKind.Invalid, "Invalid login", "Personal worktrees need a login of letters, digits and single hyphens.");
        }
        var workspace = await RequireReadyAsync(roomId, cancellationToken).ConfigureAwait(false);
        var path = PersonalWorktreeNames.Folder(_options, roomId, login);
        if (File.Exists(Path.Combine(path, ".git")))
        {
            return path;
        }
        var store = StorePath(workspace);
        // The store lock: adding a worktree moves the store's HEAD and adds branches, as creating a room's worktree does.
        await using (await locks.LockStoreAsync(workspace.StoreId, cancellationToken).ConfigureAwait(false))
        {
            if (File.Exists(Path.Combine(path, ".git")))
            {
                return path; // another request made it while this one waited
            }
            var name = PersonalWorktreeNames.WorktreeName(roomId, login);
            var branch = PersonalWorktreeNames.Branch(roomId, login);
            LibGitStore.Isolate(_options.ScratchPath);
            await Task.Run(() =>
            {
                // A member's earlier branch (its folder removed) keeps their commits: the worktree starts from it.
                var start = SyncGit.BranchTip(store, branch) ?? SyncGit.BranchTip(store, workspace.Branch)
                    ?? throw new WorkspaceException(WorkspaceErrorKind.NotReady, "Workspace not ready", "The room's branch does not exist yet.");
                LibGitStore.RemoveWorktree(store, name, path);
                Directory.CreateDirectory(Path.GetDirectoryName(path)!);
                LibGitStore.AddWorktree(store, name, path, branch, start);
            }, cancellationToken).ConfigureAwait(false);
            LogCreated(logger, roomId, login);
        }
        return path;
    }

    public async Task<PersonalWorktreeState> GetStateAsync(Guid roomId, string login, CancellationToken cancellationToken)
    {
        var path = await EnsureAsync(roomId, login, cancellationToken).ConfigureAwait(false);
        var workspace = await RequireReadyAsync(roomId, cancellationToken).ConfigureAwait(false);
        var branch = PersonalWorktreeNames.Branch(roomId, login);
        var (head, roomHead, ahead, behind, changed) = await Task.Run(
            () => SyncGit.Compare(StorePath(workspace), path, workspace.Branch, branch), cancellationToken).ConfigureAwait(false);
        return new PersonalWorktreeState(roomId, login, branch, workspace.Branch, head, roomHead, ahead, behind, changed);
    }

    /// <summary>
    /// Removes every member worktree of the room and their branches (with the room's workspace). Static: the GitWorker's
    /// delete job calls it with the store lock held.
    /// </summary>
    public static void RemoveAll(WorkspaceOptions options, string store, Guid roomId)
    {
        var folder = PersonalWorktreeNames.RoomFolder(options, roomId);
        if (Directory.Exists(folder))
        {
            foreach (var member in Directory.EnumerateDirectories(folder))
            {
                var login = Path.GetFileName(member);
                if (PersonalWorktreeNames.IsValidLogin(login))
                {
                    LibGitStore.RemoveWorktree(store, PersonalWorktreeNames.WorktreeName(roomId, login), member);
                    if (Directory.Exists(store))
                    {
                        LibGitStore.DeleteBranch(store, PersonalWorktreeNames.Branch(roomId, login));
                    }
                }
            }
            Directory.Delete(folder, recursive: true);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Created {Login}'s own worktree in room {RoomId}")]
    private static partial void LogCreated(ILogger logger, Guid roomId, string login);
}
