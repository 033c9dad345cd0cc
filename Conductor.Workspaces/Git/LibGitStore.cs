using System.Globalization;
using LibGit2Sharp;
using LibGit2Sharp.Handlers;

namespace Conductor.Workspaces.Git;

/// <summary>
/// The repository work done in process through LibGit2Sharp (libgit2): creating and fetching a bare store, adding
/// and removing a room's worktree, committing and pushing. Tokens reach libgit2 from memory through
/// <see cref="FetchOptionsBase.CredentialsProvider"/>: no askpass helper, FIFO, environment variable or config entry
/// ever carries one. Every method blocks (libgit2 is synchronous); callers run them off the request path.
/// </summary>
internal static class LibGitStore
{
    private static readonly Lock IsolationGate = new();
    private static bool s_isolated;

    /// <summary>
    /// libgit2 reads the machine's system, XDG and global config files by default (a developer's credential or
    /// redirect settings); Conductor's stores must behave the same everywhere, so those levels point at an empty folder.
    /// </summary>
    public static void Isolate(string scratchPath)
    {
        lock (IsolationGate)
        {
            if (s_isolated)
            {
                return;
            }
            var empty = Path.Combine(scratchPath, "no-git-config");
            Directory.CreateDirectory(empty);
            foreach (var level in new[] { ConfigurationLevel.System, ConfigurationLevel.Xdg, ConfigurationLevel.Global, ConfigurationLevel.ProgramData })
            {
                GlobalSettings.SetConfigSearchPaths(level, empty);
            }
            s_isolated = true;
        }
    }

    /// <summary>A new bare store whose fetches keep remote branches as remote-tracking refs and follow no redirect.</summary>
    public static void InitStore(string path, string remoteUrl)
    {
        Repository.Init(path, isBare: true);
        using var repo = new Repository(path);
        // Remote branches as remote-tracking refs: a fetch must never move the rooms' session branches in refs/heads.
        repo.Network.Remotes.Add("origin", remoteUrl, "+refs/heads/*:refs/remotes/origin/*");
        // A redirect could point a validated public URL at an internal address (libgit2 reads this setting).
        repo.Config.Set("http.followRedirects", "false");
        // For the git CLI that code search still runs in worktrees: never start a gc behind Conductor's back.
        repo.Config.Set("gc.auto", 0);
    }

    /// <summary>Fetches every branch of origin into the store, pruning deleted ones; progress in git's own words.</summary>
    public static void Fetch(string store, GitCredential? credential, string username, string? sshProgram, Action<string> onProgress,
        CancellationToken cancellationToken)
    {
        using var repo = new Repository(store);
        ConfigureSsh(repo, sshProgram);
        var options = new FetchOptions
        {
            Prune = true,
            CredentialsProvider = CredentialsFor(credential, username),
            // Returning false is how libgit2 is told to stop: cancellation (and the remote timeout) end the transfer.
            OnTransferProgress = progress =>
            {
                if (progress.TotalObjects > 0)
                {
                    // LibGit2Sharp reports objects received, then objects indexed (deltas resolved): git's two phases.
                    onProgress(progress.ReceivedObjects < progress.TotalObjects
                        ? Line("Receiving objects", progress.ReceivedObjects, progress.TotalObjects)
                        : Line("Resolving deltas", progress.IndexedObjects, progress.TotalObjects));
                }
                return !cancellationToken.IsCancellationRequested;
            },
            OnProgress = _ => !cancellationToken.IsCancellationRequested,
        };
        try
        {
            Commands.Fetch(repo, "origin", [], options, logMessage: null);
        }
        catch (UserCancelledException) when (cancellationToken.IsCancellationRequested)
        {
            throw new OperationCanceledException(cancellationToken);
        }
    }

    /// <summary>The commit a remote-tracking branch points at, or null when origin has no such branch.</summary>
    public static string? RemoteBranchCommit(string store, string branch)
    {
        using var repo = new Repository(store);
        return repo.Branches[$"origin/{branch}"]?.Tip?.Sha;
    }

    /// <summary>
    /// Adds the room's worktree on <paramref name="branch"/> (reset to <paramref name="commit"/>). libgit2's
    /// <c>git_worktree_add</c> always creates a branch named after the worktree, from the store's HEAD, and a name
    /// with '/' fails after leaving that branch behind. So the worktree gets the room id as its name (no '/'), the
    /// store's HEAD is detached at the base commit so that branch has a commit to start from, the worktree's HEAD is
    /// then pointed at the session branch (same commit: no second checkout), and the branch named after the worktree is deleted: nothing stray stays.
    /// </summary>
    public static string AddWorktree(string store, string name, string path, string branch, string commit)
    {
        using var repo = new Repository(store);
        var target = repo.Lookup<Commit>(commit) ?? throw new InvalidOperationException($"The store has no commit {commit}.");
        if (repo.Branches[name] is not null)
        {
            repo.Branches.Remove(name); // a killed attempt's leftover
        }
        repo.Refs.UpdateTarget(repo.Refs.Head, target.Id, "conductor: worktree base");
        repo.Branches.Add(branch, target, allowOverwrite: true);
        // Worktrees.Add(branch, name, ...) checks the tree out twice (once on the forced branch, then again on the
        // target branch, rehashing every file: ~24 s for 20,000 files, measured). Both branches are at the same
        // commit, so one checkout and a HEAD that then names the session branch give the same worktree.
        repo.Worktrees.Add(name, path, isLocked: false);
        using var worktree = new Repository(path);
        worktree.Refs.UpdateTarget("HEAD", $"refs/heads/{branch}", "conductor: session branch");
        repo.Branches.Remove(name);
        return worktree.Head.Tip.Sha;
    }

    /// <summary>The worktree name of a store's spare checkout (no '/', never a room id).</summary>
    public const string SpareName = "conductor-spare";

    private const string SpareReadyMarker = "conductor-spare-ready";

    /// <summary>
    /// Adds the store's spare: a worktree checked out at <paramref name="commit"/> (detached) that the next room on
    /// this remote takes over instead of checking out every file itself (<see cref="TryClaimSpare"/>). Checking out
    /// is what a second room paid (libgit2 writes each file of the tree: ~10 s for 20,000 files here, measured),
    /// and ext4 has no copy-on-write clone to share files safely (hard links would let an in-place write in one room
    /// change every room's file). A marker written last says the spare is complete; an unfinished one is replaced.
    /// </summary>
    public static void AddSpare(string store, string sparePath, string commit)
    {
        RemoveWorktree(store, SpareName, sparePath);
        using var repo = new Repository(store);
        var target = repo.Lookup<Commit>(commit) ?? throw new InvalidOperationException($"The store has no commit {commit}.");
        if (repo.Branches[SpareName] is not null)
        {
            repo.Branches.Remove(SpareName);
        }
        repo.Refs.UpdateTarget(repo.Refs.Head, target.Id, "conductor: spare base");
        repo.Worktrees.Add(SpareName, sparePath, isLocked: false);
        using (var spare = new Repository(sparePath))
        {
            spare.Refs.UpdateTarget(spare.Refs.Head, target.Id, "conductor: spare detached");
        }
        repo.Branches.Remove(SpareName);
        File.WriteAllText(Path.Combine(store, "worktrees", SpareName, SpareReadyMarker), commit + "\n");
    }

    /// <summary>True when the store has a complete spare checkout.</summary>
    public static bool HasSpare(string store, string sparePath) =>
        Directory.Exists(sparePath) && File.Exists(Path.Combine(store, "worktrees", SpareName, SpareReadyMarker));

    /// <summary>
    /// Makes the store's spare the room's worktree, or returns null when there is no complete spare. What
    /// <c>git worktree move</c> does plus a new name, which LibGit2Sharp has no API for, done by hand on git's documented
    /// layout (gitrepository-layout: <c>worktrees/{name}/gitdir</c> and the worktree's <c>.git</c> file): the folder
    /// and its administrative folder are renamed (same file system: the files, their inodes and times, and so the
    /// index's stat data, stay as they were), both links rewritten, the session branch created at
    /// <paramref name="commit"/> and HEAD pointed at it. When the spare was checked out at another commit (the remote
    /// moved since), a hard reset to <paramref name="commit"/> rewrites only the files that differ. A crash half way
    /// leaves a worktree the caller's clean-up removes by the room's name before it tries again.
    /// </summary>
    public static string? TryClaimSpare(string store, string sparePath, string name, string path, string branch, string commit)
    {
        if (!HasSpare(store, sparePath))
        {
            return null;
        }
        var spareAdmin = Path.Combine(store, "worktrees", SpareName);
        var admin = Path.Combine(store, "worktrees", name);
        File.Delete(Path.Combine(spareAdmin, SpareReadyMarker));
        Directory.Move(sparePath, path);
        Directory.Move(spareAdmin, admin);
        File.WriteAllText(Path.Combine(path, ".git"), $"gitdir: {admin}\n");
        File.WriteAllText(Path.Combine(admin, "gitdir"), $"{Path.Combine(path, ".git")}\n");

        using var repo = new Repository(store);
        var target = repo.Lookup<Commit>(commit) ?? throw new InvalidOperationException($"The store has no commit {commit}.");
        repo.Branches.Add(branch, target, allowOverwrite: true);
        using var worktree = new Repository(path);
        var checkedOut = worktree.Head.Tip?.Sha;
        worktree.Refs.UpdateTarget("HEAD", $"refs/heads/{branch}", "conductor: session branch");
        if (checkedOut != commit)
        {
            worktree.Reset(ResetMode.Hard, target);
        }
        return worktree.Head.Tip?.Sha ?? throw new InvalidOperationException($"The worktree at {path} has no commit after taking over the spare.");
    }

    /// <summary>
    /// Removes a worktree's registration and folder. A worktree whose folder is gone lists as null in
    /// LibGit2Sharp, so its administrative folder (<c>worktrees/{name}</c> in the store, what <c>git worktree
    /// prune</c> deletes) is removed by hand.
    /// </summary>
    public static void RemoveWorktree(string store, string name, string path)
    {
        if (Directory.Exists(store))
        {
            using var repo = new Repository(store);
            if (repo.Worktrees[name] is { } worktree)
            {
                repo.Worktrees.Prune(worktree, ifLocked: true);
            }
        }
        if (Directory.Exists(path))
        {
            Directory.Delete(path, recursive: true);
        }
        var admin = Path.Combine(store, "worktrees", name);
        if (Directory.Exists(admin))
        {
            Directory.Delete(admin, recursive: true);
        }
    }

    public static void DeleteBranch(string store, string branch)
    {
        using var repo = new Repository(store);
        if (repo.Branches[branch] is not null)
        {
            repo.Branches.Remove(branch);
        }
    }

    /// <summary>Stages every change (new, modified, deleted) and commits it; null when there is nothing to commit.</summary>
    public static string? CommitAll(string worktree, string message, Signature author, Signature committer)
    {
        using var repo = new Repository(worktree);
        Commands.Stage(repo, "*");
        var staged = repo.Diff.Compare<TreeChanges>(repo.Head.Tip.Tree, DiffTargets.Index);
        if (staged.Count == 0)
        {
            return null;
        }
        // PrettifyMessage with '#' is git's --cleanup=strip: comment lines and surrounding blank lines go.
        return repo.Commit(message, author, committer, new CommitOptions { PrettifyMessage = true, CommentaryChar = '#' }).Sha;
    }

    /// <summary>Pushes the branch to origin; null on success, else the remote's (or libgit2's) reason for refusing.</summary>
    public static string? Push(string store, string branch, GitCredential? credential, string username, string? sshProgram,
        CancellationToken cancellationToken)
    {
        using var repo = new Repository(store);
        ConfigureSsh(repo, sshProgram);
        string? rejection = null;
        var options = new PushOptions
        {
            CredentialsProvider = CredentialsFor(credential, username),
            OnPushStatusError = error => rejection = error.Message,
            OnPushTransferProgress = (_, _, _) => !cancellationToken.IsCancellationRequested,
        };
        try
        {
            repo.Network.Push(repo.Network.Remotes["origin"], $"refs/heads/{branch}:refs/heads/{branch}", options);
        }
        catch (NonFastForwardException ex)
        {
            // libgit2 refuses before sending when the remote's branch is not an ancestor of ours (git says "fetch first").
            return $"rejected (non-fast-forward): {ex.Message}";
        }
        catch (LibGit2SharpException ex)
        {
            return ex.Message;
        }
        return rejection;
    }

    /// <summary>
    /// For an SSH origin, the store's <c>core.sshCommand</c> is set (again each time, so a changed key path applies)
    /// to the wrapper <see cref="SshCommand.EnsureProgram"/> wrote: libgit2 runs it instead of speaking SSH itself.
    /// Any other origin gets none. A store's config is Conductor's alone (the machine's levels are isolated).
    /// </summary>
    private static void ConfigureSsh(Repository repo, string? sshProgram)
    {
        var url = repo.Network.Remotes["origin"]?.Url ?? "";
        var isSsh = url.StartsWith("ssh://", StringComparison.Ordinal) || !url.Contains("://", StringComparison.Ordinal) && !url.StartsWith('/');
        if (isSsh && sshProgram is not null)
        {
            repo.Config.Set("core.sshCommand", sshProgram);
        }
        else if (repo.Config.Get<string>("core.sshCommand") is not null)
        {
            repo.Config.Unset("core.sshCommand");
        }
    }

    private static CredentialsHandler? CredentialsFor(GitCredential? credential, string username) =>
        credential is null
            ? null
            // libgit2 asks only after the remote refused anonymous access, and gives up after a bounded number of replays.
            : (_, _, _) => new UsernamePasswordCredentials { Username = username, Password = credential.Secret };

    private static string Line(string phase, int done, int total) =>
        string.Create(CultureInfo.InvariantCulture, $"{phase}: {done * 100L / total,3}% ({done}/{total})");
}
