using System.Text.RegularExpressions;
using Conductor.Jobs;
using Conductor.Workspaces.Git;
using Conductor.Workspaces.Search;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using LibGit2SharpException = LibGit2Sharp.LibGit2SharpException;
using Signature = LibGit2Sharp.Signature;

namespace Conductor.Workspaces;

/// <summary>
/// What the GitWorker does to stores and worktrees. Layout under <see cref="WorkspaceOptions.Root"/>:
/// <c>stores/{store_id}.git</c> (one bare object store per normalised remote, shared by every room on it) and
/// <c>worktrees/{room_id}</c> (the room's checkout on <c>session/{room_id}</c>). Every step is idempotent: a job
/// re-run after a crash finds what the killed attempt left and finishes it. The git work itself is libgit2's,
/// through LibGit2Sharp (<see cref="LibGitStore"/>), run in process.
/// </summary>
public sealed partial class WorkspaceProvisioner(
    WorkspaceRepository repository,
    WorkspaceCredentials credentials,
    WorkspaceLocks locks,
    WorkspaceEvents events,
    IOptions<WorkspaceOptions> options,
    TimeProvider time,
    ILogger<WorkspaceProvisioner> logger)
{
    private readonly WorkspaceOptions _options = options.Value;

    public string StorePath(string storeId) => Path.Combine(_options.StoresPath, storeId + ".git");
    public string WorktreePath(Guid roomId) => Path.Combine(_options.WorktreesPath, roomId.ToString("D"));

    /// <summary>The store's spare checkout (a name no room id can have).</summary>
    public string SparePath(string storeId) => Path.Combine(_options.WorktreesPath, $".spare-{storeId}");

    /// <summary>Clones (or fetches into) the shared store and adds the room's worktree; returns the head commit.</summary>
    public async Task<string> CreateAsync(Guid roomId, Func<double, string, Task> progress, bool lastAttempt, CancellationToken cancellationToken)
    {
        var workspace = await repository.GetAsync(roomId, cancellationToken).ConfigureAwait(false)
            ?? throw new PermanentJobFailureException("The room has no workspace record (deleted while the job waited).");
        if (workspace.Status == WorkspaceStatus.Ready && workspace.HeadCommit is not null)
        {
            return workspace.HeadCommit; // a duplicate delivery of a job that already finished its work
        }
        if (workspace.Status != WorkspaceStatus.Creating)
        {
            throw new PermanentJobFailureException($"The workspace is {workspace.Status}, not creating.");
        }
        try
        {
            var head = await CreateCoreAsync(workspace, progress, cancellationToken).ConfigureAwait(false);
            await repository.SetStatusAsync(roomId, WorkspaceStatus.Ready, null, head, [WorkspaceStatus.Creating], cancellationToken).ConfigureAwait(false);
            await events.PublishStatusAsync(roomId, WorkspaceStatus.Ready, null, head, cancellationToken).ConfigureAwait(false);
            LogReady(logger, roomId, workspace.StoreId, head);
            await PrepareSpareAsync(workspace.StoreId, head, cancellationToken).ConfigureAwait(false);
            return head;
        }
        catch (Exception ex) when (ex is PermanentJobFailureException || (lastAttempt && ex is not OperationCanceledException))
        {
            await repository.SetStatusAsync(roomId, WorkspaceStatus.Failed, ex.Message, null, [WorkspaceStatus.Creating], CancellationToken.None).ConfigureAwait(false);
            await events.PublishStatusAsync(roomId, WorkspaceStatus.Failed, ex.Message, null, CancellationToken.None).ConfigureAwait(false);
            throw;
        }
    }

    private async Task<string> CreateCoreAsync(WorkspaceRecord workspace, Func<double, string, Task> progress, CancellationToken cancellationToken)
    {
        RemoteUrl remote;
        try
        {
            remote = await RemoteUrlValidator.ValidateAsync(workspace.RepoUrl, _options, cancellationToken).ConfigureAwait(false);
        }
        catch (RemoteUrlException ex)
        {
            throw new PermanentJobFailureException(ex.Message);
        }
        var credential = await credentials.GetAsync(workspace.RoomId, cancellationToken).ConfigureAwait(false);
        var store = StorePath(remote.StoreId);
        var worktree = WorktreePath(workspace.RoomId);
        Directory.CreateDirectory(_options.StoresPath);
        Directory.CreateDirectory(_options.WorktreesPath);

        LibGitStore.Isolate(_options.ScratchPath);
        var reporter = new GitProgress((fraction, message) => progress(fraction, message).GetAwaiter().GetResult());
        await using (await locks.LockStoreAsync(remote.StoreId, cancellationToken).ConfigureAwait(false))
        {
            if (IsCompleteStore(store))
            {
                // Another room already has this repository. Fetching with this requester's own credentials is the
                // access check: nobody reads a private repository through someone else's clone.
                LogFetching(logger, workspace.RoomId, remote.StoreId);
                await progress(0, "Fetching into the shared store").ConfigureAwait(false);
                await FetchAsync(store, credential, reporter, cancellationToken).ConfigureAwait(false);
            }
            else
            {
                LogCloning(logger, workspace.RoomId, remote.StoreId);
                await CloneStoreAsync(remote, store, credential, reporter, cancellationToken).ConfigureAwait(false);
            }
            await repository.UpsertStoreAsync(remote, cancellationToken).ConfigureAwait(false);

            var baseCommit = LibGitStore.RemoteBranchCommit(store, workspace.BaseBranch)
                ?? throw new PermanentJobFailureException($"The remote has no branch '{workspace.BaseBranch}'.");

            // Whatever a killed attempt left (a half-written checkout, a registration without a folder) goes first.
            var name = WorktreeName(workspace.RoomId);
            LibGitStore.RemoveWorktree(store, name, worktree);
            await progress(0.94, "Updating files").ConfigureAwait(false);
            return await Task.Run(() =>
            {
                if (_options.SpareWorktrees && LibGitStore.TryClaimSpare(store, SparePath(remote.StoreId), name, worktree, workspace.Branch, baseCommit) is { } claimed)
                {
                    LogClaimedSpare(logger, workspace.RoomId, remote.StoreId);
                    return claimed;
                }
                return LibGitStore.AddWorktree(store, name, worktree, workspace.Branch, baseCommit);
            }, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// After a room is ready (so no user waits for it): checks out the store's spare for the next room on this remote,
    /// unless one is there. Under the store lock, like every change to the store's worktrees. A failure only costs the
    /// next room the full checkout, so it is logged, not raised.
    /// </summary>
    private async Task PrepareSpareAsync(string storeId, string commit, CancellationToken cancellationToken)
    {
        if (!_options.SpareWorktrees)
        {
            return;
        }
        var store = StorePath(storeId);
        try
        {
            await using (await locks.LockStoreAsync(storeId, cancellationToken).ConfigureAwait(false))
            {
                if (!Directory.Exists(store) || LibGitStore.HasSpare(store, SparePath(storeId)))
                {
                    return;
                }
                await Task.Run(() => LibGitStore.AddSpare(store, SparePath(storeId), commit), cancellationToken).ConfigureAwait(false);
                LogSpareReady(logger, storeId, commit);
            }
        }
        catch (Exception ex) when (ex is LibGit2SharpException or IOException or UnauthorizedAccessException or InvalidOperationException)
        {
            LogSpareFailed(logger, storeId, ex);
        }
    }

    /// <summary>The worktree's name in the store: the room id, which has no '/' (libgit2 refuses names with one).</summary>
    private static string WorktreeName(Guid roomId) => roomId.ToString("D");

    /// <summary>A store is complete once the marker written after its first fetch exists; anything else is leftovers.</summary>
    private static bool IsCompleteStore(string store) => File.Exists(Path.Combine(store, "conductor-store"));

    private async Task CloneStoreAsync(RemoteUrl remote, string store, GitCredential? credential, GitProgress reporter, CancellationToken cancellationToken)
    {
        // Cloned beside its final place and moved in at the end, so a store folder is either complete or absent.
        foreach (var leftover in Directory.EnumerateDirectories(_options.StoresPath, Path.GetFileName(store) + ".tmp-*"))
        {
            Directory.Delete(leftover, recursive: true);
        }
        if (Directory.Exists(store))
        {
            Directory.Delete(store, recursive: true);
        }
        var staging = $"{store}.tmp-{Guid.NewGuid():N}";
        LibGitStore.InitStore(staging, remote.GitUrl);
        await FetchAsync(staging, credential, reporter, cancellationToken).ConfigureAwait(false);
        await File.WriteAllTextAsync(Path.Combine(staging, "conductor-store"), remote.NormalizedUrl + "\n", cancellationToken).ConfigureAwait(false);
        Directory.Move(staging, store);
    }

    private async Task FetchAsync(string store, GitCredential? credential, GitProgress reporter, CancellationToken cancellationToken)
    {
        using var timeout = new CancellationTokenSource(_options.RemoteTimeout);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
        try
        {
            await Task.Run(() => LibGitStore.Fetch(store, credential, _options.GitUsername, SshCommand.EnsureProgram(_options), reporter.OnLine, linked.Token), CancellationToken.None).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException($"The fetch did not finish within {_options.RemoteTimeout}.");
        }
        catch (LibGit2SharpException ex) when (IsAccessDenied(ex.Message))
        {
            throw new PermanentJobFailureException($"The remote refused access with the given credentials: {ex.Message}");
        }
        catch (LibGit2SharpException ex) when (SshGaveUp(ex.Message))
        {
            // libgit2 does not pass ssh's own words on (they go to the GitWorker's stderr, hence its log); an SSH
            // remote that closes before sending refs refused the key or the host, or has no such repository.
            throw new PermanentJobFailureException(
                "The SSH remote refused access with the deployment key (or its host key is not in Workspaces:SshKnownHostsPath, " +
                $"or it has no such repository; ssh's message is in the GitWorker's log): {ex.Message}");
        }
    }

    private static bool SshGaveUp(string message) =>
        message.Contains("could not read refs from remote repository", StringComparison.OrdinalIgnoreCase);

    private static bool IsAccessDenied(string stderr) =>
        AccessDenied().IsMatch(stderr);

    /// <summary>Stages everything, commits as the user and pushes the session branch with the stored credential.</summary>
    public async Task<CommitOutcome> CommitAsync(Guid roomId, CommitJobPayload payload, CancellationToken cancellationToken)
    {
        var workspace = await repository.GetAsync(roomId, cancellationToken).ConfigureAwait(false)
            ?? throw new PermanentJobFailureException("The room has no workspace.");
        if (workspace.Status != WorkspaceStatus.Ready)
        {
            throw new PermanentJobFailureException($"The workspace is {workspace.Status}, not ready.");
        }
        var worktree = WorktreePath(roomId);
        string commit;
        // File writes through the Api take the same lock: nothing changes between the add and the commit.
        await using (await locks.LockRoomAsync(roomId, cancellationToken).ConfigureAwait(false))
        {
            var when = time.GetUtcNow();
            var author = new Signature(payload.AuthorName, $"{SafeLocalPart(payload.AuthorName)}@{_options.AuthorEmailDomain}", when);
            var committer = new Signature(_options.CommitterName, _options.CommitterEmail, when);
            var made = await Task.Run(() => LibGitStore.CommitAll(worktree, payload.Message, author, committer), cancellationToken).ConfigureAwait(false);
            if (made is null)
            {
                return new CommitOutcome(false, null, false, "no changes", null);
            }
            commit = made;
        }
        await repository.SetStatusAsync(roomId, WorkspaceStatus.Ready, null, commit, [WorkspaceStatus.Ready], cancellationToken).ConfigureAwait(false);
        await events.PublishStatusAsync(roomId, WorkspaceStatus.Ready, null, commit, cancellationToken).ConfigureAwait(false);
        LogCommitted(logger, roomId, commit);

        if (!payload.Push)
        {
            return new CommitOutcome(true, commit, false, null, null);
        }
        var credential = await credentials.GetAsync(roomId, cancellationToken).ConfigureAwait(false);
        using var timeout = new CancellationTokenSource(_options.RemoteTimeout);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
        var store = StorePath(workspace.StoreId);
        var rejection = await Task.Run(() => LibGitStore.Push(store, workspace.Branch, credential, _options.GitUsername, SshCommand.EnsureProgram(_options), linked.Token), CancellationToken.None).ConfigureAwait(false);
        if (rejection is null)
        {
            return new CommitOutcome(true, commit, true, null, null);
        }
        LogPushRejected(logger, roomId, rejection);
        return new CommitOutcome(true, commit, false, null, rejection);
    }

    /// <summary>Removes the room's worktree and branch, then the record; the store's grace period starts when no room uses it.</summary>
    public async Task DeleteAsync(Guid roomId, CancellationToken cancellationToken)
    {
        var workspace = await repository.GetAsync(roomId, cancellationToken).ConfigureAwait(false);
        if (workspace is null)
        {
            return; // done by an earlier delivery
        }
        var store = StorePath(workspace.StoreId);
        await using (await locks.LockStoreAsync(workspace.StoreId, cancellationToken).ConfigureAwait(false))
        {
            await using (await locks.LockRoomAsync(roomId, cancellationToken).ConfigureAwait(false))
            {
                LibGitStore.RemoveWorktree(store, WorktreeName(roomId), WorktreePath(roomId));
                SearchIndexes.DeleteIndex(WorktreePath(roomId));
                Personal.PersonalWorktrees.RemoveAll(_options, store, roomId);
            }
            if (Directory.Exists(store))
            {
                LibGitStore.DeleteBranch(store, workspace.Branch);
            }
            await repository.DeleteAsync(roomId, workspace.StoreId, cancellationToken).ConfigureAwait(false);
        }
        await events.PublishStatusAsync(roomId, "deleted", null, null, cancellationToken).ConfigureAwait(false);
        LogDeleted(logger, roomId);
    }

    /// <summary>Removes stores no room has used for the grace period. Returns how many went.</summary>
    public async Task<int> SweepStoresAsync(CancellationToken cancellationToken)
    {
        var expired = await repository.GetExpiredStoresAsync(time.GetUtcNow() - _options.StoreGracePeriod, cancellationToken).ConfigureAwait(false);
        var removed = 0;
        foreach (var storeId in expired)
        {
            await using (await locks.LockStoreAsync(storeId, cancellationToken).ConfigureAwait(false))
            {
                if (!await repository.DeleteStoreIfUnusedAsync(storeId, cancellationToken).ConfigureAwait(false))
                {
                    continue;
                }
                var path = StorePath(storeId);
                if (Directory.Exists(SparePath(storeId)))
                {
                    Directory.Delete(SparePath(storeId), recursive: true);
                }
                if (Directory.Exists(path))
                {
                    Directory.Delete(path, recursive: true);
                }
                removed++;
                LogStoreRemoved(logger, storeId);
            }
        }
        return removed;
    }

    private static string SafeLocalPart(string login)
    {
        var cleaned = new string(login.Where(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.').ToArray());
        return cleaned.Length == 0 ? "user" : cleaned;
    }

    // libgit2's words first ("too many redirects or authentication replays" is what a refused token ends in), then git's.
    [GeneratedRegex(@"authentication replays|authentication required|status code: (401|403|404)|could not find repository|failed to resolve path|Authentication failed|could not read (Username|Password)|terminal prompts disabled|HTTP Basic: Access denied|The requested URL returned error: (401|403|404)|Repository not found|repository '[^']*' not found|does not appear to be a git repository|Permission denied \(publickey|Host key verification failed|No ED25519 host key is known|REMOTE HOST IDENTIFICATION HAS CHANGED", RegexOptions.IgnoreCase)]
    private static partial Regex AccessDenied();

    [LoggerMessage(Level = LogLevel.Information, Message = "Room {RoomId} took over the spare checkout of store {StoreId}")]
    private static partial void LogClaimedSpare(ILogger logger, Guid roomId, string storeId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Spare checkout of store {StoreId} ready at {Commit}")]
    private static partial void LogSpareReady(ILogger logger, string storeId, string commit);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not prepare the spare checkout of store {StoreId}; the next room checks out itself")]
    private static partial void LogSpareFailed(ILogger logger, string storeId, Exception exception);

    [LoggerMessage(Level = LogLevel.Information, Message = "Cloning store {StoreId} for room {RoomId}")]
    private static partial void LogCloning(ILogger logger, Guid roomId, string storeId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Store {StoreId} exists; fetching into it for room {RoomId} with the room's own credentials")]
    private static partial void LogFetching(ILogger logger, Guid roomId, string storeId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Workspace of room {RoomId} is ready on store {StoreId} at {HeadCommit}")]
    private static partial void LogReady(ILogger logger, Guid roomId, string storeId, string headCommit);

    [LoggerMessage(Level = LogLevel.Information, Message = "Committed {Commit} in the workspace of room {RoomId}")]
    private static partial void LogCommitted(ILogger logger, Guid roomId, string commit);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Push of room {RoomId}'s session branch was refused: {Reason}")]
    private static partial void LogPushRejected(ILogger logger, Guid roomId, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Deleted the workspace of room {RoomId}")]
    private static partial void LogDeleted(ILogger logger, Guid roomId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Removed store {StoreId}: unused for the grace period")]
    private static partial void LogStoreRemoved(ILogger logger, string storeId);
}
