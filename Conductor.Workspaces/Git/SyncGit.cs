using System.Text;
using Conductor.Workspaces.Sync;
using LibGit2Sharp;

namespace Conductor.Workspaces.Git;

/// <summary>
/// The libgit2 work behind sync: a three-way merge of a member's branch into the room's branch against their merge
/// base (<c>ObjectDatabase.MergeCommits</c>, in memory: nothing touches a worktree until the merge is known to be
/// clean), the room's shared worktree moved to the result only if none of its uncommitted edits is in the way, then
/// the member's worktree reset to the room's new commit. Callers hold the room lock.
/// </summary>
internal static class SyncGit
{
    public static SyncOutcome Merge(string store, string sharedWorktree, string personalWorktree, Guid roomId, string login,
        string roomBranch, string memberBranch, string? committed, Signature author, Signature committer, int maxConflictBytes)
    {
        using var repo = new Repository(store);
        var room = repo.Branches[roomBranch]?.Tip ?? throw new InvalidOperationException($"The store has no branch {roomBranch}.");
        var mine = repo.Branches[memberBranch]?.Tip ?? throw new InvalidOperationException($"The store has no branch {memberBranch}.");
        var mergeBase = repo.ObjectDatabase.FindMergeBase(room, mine);

        SyncOutcome Outcome(string status, Commit head, IReadOnlyList<SyncConflict> conflicts) =>
            new(roomId, login, status, roomBranch, memberBranch, mine.Sha, committed, room.Sha, head.Sha, conflicts);

        Commit target;
        string status;
        if (mine.Id == room.Id || mergeBase?.Id == mine.Id)
        {
            (target, status) = (room, SyncStatus.UpToDate);
        }
        else if (mergeBase?.Id == room.Id)
        {
            (target, status) = (mine, SyncStatus.FastForward);
        }
        else
        {
            var merged = repo.ObjectDatabase.MergeCommits(room, mine, new MergeTreeOptions { SkipReuc = true });
            if (merged.Status == MergeTreeStatus.Conflicts)
            {
                var conflicts = merged.Conflicts
                    .Select(c => new { Path = (c.Ours ?? c.Theirs ?? c.Ancestor).Path, c })
                    .OrderBy(x => x.Path, StringComparer.Ordinal)
                    .Select(x => ContentConflict(repo, x.Path, x.c, maxConflictBytes))
                    .ToList();
                return Outcome(SyncStatus.Conflicts, room, conflicts);
            }
            var message = $"Sync {login}'s work into {roomBranch}\n\nMerge {memberBranch} ({mine.Sha[..12]}) into {roomBranch} ({room.Sha[..12]}).";
            target = repo.ObjectDatabase.CreateCommit(author, committer, message, merged.Tree, [room, mine], prettifyMessage: true);
            status = SyncStatus.Merged;
        }

        if (target.Id != room.Id)
        {
            using var shared = new Repository(sharedWorktree);
            // Uncommitted edits in the shared worktree (made through the web app or the extension) are never
            // overwritten: any file both the edit and the merge touch stops the sync before anything is written.
            var dirty = shared.RetrieveStatus(new StatusOptions { IncludeUntracked = true, RecurseUntrackedDirs = true })
                .Where(e => e.State is not FileStatus.Ignored and not FileStatus.Unaltered)
                .Select(e => e.FilePath)
                .ToHashSet(StringComparer.Ordinal);
            if (dirty.Count > 0)
            {
                var changing = repo.Diff.Compare<TreeChanges>(room.Tree, target.Tree)
                    .SelectMany(c => new[] { c.Path, c.OldPath })
                    .Where(dirty.Contains)
                    .Distinct(StringComparer.Ordinal)
                    .Order(StringComparer.Ordinal)
                    .ToList();
                if (changing.Count > 0)
                {
                    var conflicts = changing.Select(p => WorktreeConflict(repo, sharedWorktree, p, room, target, maxConflictBytes)).ToList();
                    return Outcome(SyncStatus.Conflicts, room, conflicts);
                }
            }
            // A safe checkout (libgit2's default): it refuses before writing anything if a file is in the way.
            Commands.Checkout(shared, target, new CheckoutOptions());
            repo.Refs.UpdateTarget(repo.Refs[$"refs/heads/{roomBranch}"], target.Id, $"conductor: sync {login} ({status})");
            shared.Refs.UpdateTarget("HEAD", $"refs/heads/{roomBranch}", "conductor: session branch");
        }

        // The member's worktree was committed first, so a hard reset to the room's new commit loses nothing.
        using (var personal = new Repository(personalWorktree))
        {
            personal.Reset(ResetMode.Hard, target);
        }
        return Outcome(status, target, []);
    }

    /// <summary>Commits ahead of and behind the room's branch, and the number of changed files in the member's worktree.</summary>
    public static (string Head, string RoomHead, int Ahead, int Behind, int Changed) Compare(string store, string personalWorktree, string roomBranch, string memberBranch)
    {
        using var repo = new Repository(store);
        var room = repo.Branches[roomBranch]?.Tip ?? throw new InvalidOperationException($"The store has no branch {roomBranch}.");
        var mine = repo.Branches[memberBranch]?.Tip ?? throw new InvalidOperationException($"The store has no branch {memberBranch}.");
        var divergence = repo.ObjectDatabase.CalculateHistoryDivergence(mine, room);
        using var personal = new Repository(personalWorktree);
        var changed = personal.RetrieveStatus(new StatusOptions { IncludeUntracked = true, RecurseUntrackedDirs = true })
            .Count(e => e.State is not FileStatus.Ignored and not FileStatus.Unaltered);
        return (mine.Sha, room.Sha, divergence.AheadBy ?? 0, divergence.BehindBy ?? 0, changed);
    }

    public static string? BranchTip(string store, string branch)
    {
        using var repo = new Repository(store);
        return repo.Branches[branch]?.Tip?.Sha;
    }

    private static SyncConflict ContentConflict(Repository repo, string path, Conflict conflict, int maxBytes)
    {
        var (baseText, baseBinary, baseCut) = BlobText(repo, conflict.Ancestor?.Id, maxBytes);
        var (ours, oursBinary, oursCut) = BlobText(repo, conflict.Ours?.Id, maxBytes);
        var (theirs, theirsBinary, theirsCut) = BlobText(repo, conflict.Theirs?.Id, maxBytes);
        return new SyncConflict(path, SyncConflictKind.Content, baseText, ours, theirs, baseBinary || oursBinary || theirsBinary, baseCut || oursCut || theirsCut);
    }

    /// <summary>For a worktree conflict: base is the room's commit, ours the shared worktree's file, theirs the merge result.</summary>
    private static SyncConflict WorktreeConflict(Repository repo, string worktree, string path, Commit room, Commit target, int maxBytes)
    {
        var (baseText, baseBinary, baseCut) = BlobText(repo, (room[path]?.Target as Blob)?.Id, maxBytes);
        var (theirs, theirsBinary, theirsCut) = BlobText(repo, (target[path]?.Target as Blob)?.Id, maxBytes);
        var full = Path.Combine(worktree, path);
        string? ours = null;
        bool oursBinary = false, oursCut = false;
        var info = new FileInfo(full);
        if (info.Exists && info.LinkTarget is null)
        {
            var bytes = File.ReadAllBytes(full);
            (ours, oursBinary, oursCut) = Text(bytes, maxBytes);
        }
        return new SyncConflict(path, SyncConflictKind.Worktree, baseText, ours, theirs, baseBinary || oursBinary || theirsBinary, baseCut || oursCut || theirsCut);
    }

    private static (string? Text, bool Binary, bool Truncated) BlobText(Repository repo, ObjectId? id, int maxBytes)
    {
        if (id is null || repo.Lookup<Blob>(id) is not { } blob)
        {
            return (null, false, false);
        }
        if (blob.IsBinary)
        {
            return (null, true, false);
        }
        if (blob.Size > maxBytes)
        {
            return (null, false, true);
        }
        using var stream = blob.GetContentStream();
        using var buffer = new MemoryStream();
        stream.CopyTo(buffer);
        return Text(buffer.ToArray(), maxBytes);
    }

    private static (string? Text, bool Binary, bool Truncated) Text(byte[] bytes, int maxBytes)
    {
        if (bytes.Length > maxBytes)
        {
            return (null, false, true);
        }
        if (bytes.AsSpan().Contains((byte)0))
        {
            return (null, true, false);
        }
        try
        {
            return (new UTF8Encoding(false, true).GetString(bytes), false, false);
        }
        catch (DecoderFallbackException)
        {
            return (null, true, false);
        }
    }
}
