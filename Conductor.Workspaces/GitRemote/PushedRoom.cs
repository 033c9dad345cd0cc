using Conductor.Workspaces.Git;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Conductor.Workspaces.GitRemote;

/// <summary>
/// A room whose repository arrived by a push to its git remote (<c>/git/{room_id}.git</c>) rather than by a clone:
/// the user's own machine holds their git host credentials, Conductor never sees them. The room gets a store of its
/// own (no origin; <see cref="RepoUrl"/> marks it), prepared when the host first asks to push; once the session branch
/// has arrived, the room's worktree is added and the workspace becomes ready.
/// </summary>
public sealed partial class PushedRoom(
    WorkspaceRepository repository,
    WorkspaceLocks locks,
    WorkspaceEvents events,
    IOptions<WorkspaceOptions> options,
    ILogger<PushedRoom> logger)
{
    /// <summary>The repo_url of a workspace that came from a push: there is no origin to fetch from or publish to.</summary>
    public const string RepoUrl = "conductor:push";

    private readonly WorkspaceOptions _options = options.Value;

    /// <summary>The store a pushed room uses: named by the room, so no other room ever shares it.</summary>
    public static RemoteUrl StoreFor(Guid roomId) => new(RepoUrl, $"conductor:push/{roomId:D}");

    public string StorePath(string storeId) => Path.Combine(_options.StoresPath, storeId + ".git");

    /// <summary>
    /// Makes sure the room has a workspace to push into: creates an empty store and the workspace record (status
    /// <c>creating</c>) when the room has none. Returns the workspace (whatever its status).
    /// </summary>
    public async Task<WorkspaceRecord> PrepareAsync(Guid roomId, Guid userId, CancellationToken cancellationToken)
    {
        if (await repository.GetAsync(roomId, cancellationToken).ConfigureAwait(false) is { Status: not WorkspaceStatus.Failed } existing)
        {
            return existing;
        }
        var remote = StoreFor(roomId);
        var store = StorePath(remote.StoreId);
        await using (await locks.LockStoreAsync(remote.StoreId, cancellationToken).ConfigureAwait(false))
        {
            if (!File.Exists(Path.Combine(store, "conductor-store")))
            {
                Directory.CreateDirectory(_options.StoresPath);
                LibGitStore.Isolate(_options.ScratchPath);
                var staging = $"{store}.tmp-{Guid.NewGuid():N}";
                LibGit2Sharp.Repository.Init(staging, isBare: true);
                using (var repo = new LibGit2Sharp.Repository(staging))
                {
                    repo.Config.Set("gc.auto", 0);
                }
                await File.WriteAllTextAsync(Path.Combine(staging, "conductor-store"), remote.NormalizedUrl + "\n", cancellationToken).ConfigureAwait(false);
                if (Directory.Exists(store))
                {
                    Directory.Delete(store, recursive: true);
                }
                Directory.Move(staging, store);
            }
            await repository.UpsertStoreAsync(remote, cancellationToken).ConfigureAwait(false);
            // A concurrent first push may have created it: the insert is a no-op then.
            await repository.TryCreateAsync(roomId, remote, WorkspaceRecord.BranchFor(roomId), userId, null, cancellationToken).ConfigureAwait(false);
        }
        await events.PublishStatusAsync(roomId, WorkspaceStatus.Creating, null, null, cancellationToken).ConfigureAwait(false);
        LogPrepared(logger, roomId);
        return (await repository.GetAsync(roomId, cancellationToken).ConfigureAwait(false))!;
    }

    /// <summary>
    /// After a push: when the workspace is still waiting for its first session branch and the branch has arrived,
    /// adds the room's worktree on it and marks the workspace ready. Returns the head commit, or null when nothing happened.
    /// </summary>
    public async Task<string?> CompleteAsync(Guid roomId, CancellationToken cancellationToken)
    {
        var workspace = await repository.GetAsync(roomId, cancellationToken).ConfigureAwait(false);
        if (workspace is not { Status: WorkspaceStatus.Creating, RepoUrl: RepoUrl })
        {
            return null;
        }
        var store = StorePath(workspace.StoreId);
        LibGitStore.Isolate(_options.ScratchPath);
        string head;
        await using (await locks.LockStoreAsync(workspace.StoreId, cancellationToken).ConfigureAwait(false))
        {
            var tip = SyncGit.BranchTip(store, workspace.Branch);
            if (tip is null)
            {
                return null;
            }
            var worktree = Path.Combine(_options.WorktreesPath, roomId.ToString("D"));
            var name = roomId.ToString("D");
            Directory.CreateDirectory(_options.WorktreesPath);
            head = await Task.Run(() =>
            {
                LibGitStore.RemoveWorktree(store, name, worktree);
                return LibGitStore.AddWorktree(store, name, worktree, workspace.Branch, tip);
            }, cancellationToken).ConfigureAwait(false);
        }
        if (await repository.SetStatusAsync(roomId, WorkspaceStatus.Ready, null, head, [WorkspaceStatus.Creating], cancellationToken).ConfigureAwait(false))
        {
            await events.PublishStatusAsync(roomId, WorkspaceStatus.Ready, null, head, cancellationToken).ConfigureAwait(false);
            LogReady(logger, roomId, head);
        }
        return head;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Room {RoomId} will receive its repository by a push")]
    private static partial void LogPrepared(ILogger logger, Guid roomId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Room {RoomId}'s pushed repository is ready at {HeadCommit}")]
    private static partial void LogReady(ILogger logger, Guid roomId, string headCommit);
}
