using Conductor.Workspaces.Git;
using Conductor.Workspaces.Personal;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Signature = LibGit2Sharp.Signature;

namespace Conductor.Workspaces.Sync;

/// <summary>
/// <c>sync</c> and <c>publish</c> (SteadyState's workflow on Conductor's stores): the member's changes are committed on
/// their own branch, merged three-way into the room's branch against the merge base, and the member's worktree is
/// brought up to the room's new commit; publish then pushes the room's branch to origin. Everything that changes the
/// room's branch runs under the room lock (the lock file writes and the commit job take), so two members' syncs run
/// one after the other and both land.
/// </summary>
public sealed partial class WorkspaceSync(
    PersonalWorktrees personal,
    WorkspaceRepository repository,
    WorkspaceCredentials credentials,
    WorkspaceLocks locks,
    WorkspaceEvents events,
    IOptions<WorkspaceOptions> options,
    TimeProvider time,
    ILogger<WorkspaceSync> logger)
{
    /// <summary>Each side of a conflict is returned in full up to this size.</summary>
    public const int MaxConflictBytes = 256 * 1024;

    private readonly WorkspaceOptions _options = options.Value;

    public async Task<SyncOutcome> SyncAsync(Guid roomId, string login, string? message, CancellationToken cancellationToken)
    {
        var text = string.IsNullOrWhiteSpace(message) ? $"Work by {login}" : message.Trim();
        if (text.Length > WorkspaceCommands.MaxCommitMessageLength || text.Contains('\0', StringComparison.Ordinal))
        {
            throw new WorkspaceException(WorkspaceErrorKind.Invalid, "Invalid commit message", $"message must be at most {WorkspaceCommands.MaxCommitMessageLength} characters without NUL.");
        }
        // Made before the room lock is taken: creating a worktree takes the store lock, and the delete job takes the
        // store lock before the room lock, so taking them the other way round here could deadlock.
        var personalPath = await personal.EnsureAsync(roomId, login, cancellationToken).ConfigureAwait(false);
        SyncOutcome outcome;
        await using (await locks.LockRoomAsync(roomId, cancellationToken).ConfigureAwait(false))
        {
            var workspace = await personal.RequireReadyAsync(roomId, cancellationToken).ConfigureAwait(false);
            var store = personal.StorePath(workspace);
            var shared = personal.SharedWorktreePath(roomId);
            var memberBranch = PersonalWorktreeNames.Branch(roomId, login);
            var when = time.GetUtcNow();
            var author = new Signature(login, $"{login}@{_options.AuthorEmailDomain}", when);
            var committer = new Signature(_options.CommitterName, _options.CommitterEmail, when);
            LibGitStore.Isolate(_options.ScratchPath);
            outcome = await Task.Run(() =>
            {
                var committed = LibGitStore.CommitAll(personalPath, text, author, committer);
                return SyncGit.Merge(store, shared, personalPath, roomId, login, workspace.Branch, memberBranch, committed, author, committer, MaxConflictBytes);
            }, cancellationToken).ConfigureAwait(false);
            if (outcome.HeadCommit != outcome.BaseCommit)
            {
                await repository.SetStatusAsync(roomId, WorkspaceStatus.Ready, null, outcome.HeadCommit, [WorkspaceStatus.Ready], cancellationToken).ConfigureAwait(false);
            }
        }
        LogSynced(logger, roomId, login, outcome.Status, outcome.HeadCommit, outcome.Conflicts.Count);
        if (outcome.HeadCommit != outcome.BaseCommit)
        {
            await events.PublishStatusAsync(roomId, WorkspaceStatus.Ready, null, outcome.HeadCommit, cancellationToken).ConfigureAwait(false);
        }
        return outcome;
    }

    /// <summary>Sync, then push the room's branch to origin with the workspace's stored credential (nothing pushed after a conflict).</summary>
    public async Task<PublishOutcome> PublishAsync(Guid roomId, string login, string? message, CancellationToken cancellationToken)
    {
        var workspace = await personal.RequireReadyAsync(roomId, cancellationToken).ConfigureAwait(false);
        if (workspace.RepoUrl == GitRemote.PushedRoom.RepoUrl)
        {
            throw new WorkspaceException(WorkspaceErrorKind.Conflict, "No origin to publish to",
                "This room was created from a push: Conductor holds no credentials for your remote. Sync, fetch the session branch and push it to your remote yourself (conductor publish does).");
        }
        var synced = await SyncAsync(roomId, login, message, cancellationToken).ConfigureAwait(false);
        if (synced.Status == SyncStatus.Conflicts)
        {
            return new PublishOutcome(synced, false, "not pushed: the sync had conflicts");
        }
        var credential = await credentials.GetAsync(roomId, cancellationToken).ConfigureAwait(false);
        using var timeout = new CancellationTokenSource(_options.RemoteTimeout);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
        var store = personal.StorePath(workspace);
        var rejection = await Task.Run(() => LibGitStore.Push(store, workspace.Branch, credential, _options.GitUsername, SshCommand.EnsureProgram(_options), linked.Token), CancellationToken.None)
            .ConfigureAwait(false);
        LogPublished(logger, roomId, login, rejection is null, rejection);
        return new PublishOutcome(synced, rejection is null, rejection);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Sync by {Login} in room {RoomId}: {Status}, room branch at {HeadCommit}, {ConflictCount} conflict(s)")]
    private static partial void LogSynced(ILogger logger, Guid roomId, string login, string status, string headCommit, int conflictCount);

    [LoggerMessage(Level = LogLevel.Information, Message = "Publish by {Login} in room {RoomId}: pushed {Pushed} {PushError}")]
    private static partial void LogPublished(ILogger logger, Guid roomId, string login, bool pushed, string? pushError);
}
