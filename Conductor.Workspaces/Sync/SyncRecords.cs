namespace Conductor.Workspaces.Sync;

public static class SyncStatus
{
    /// <summary>The member had nothing the room's branch did not already have.</summary>
    public const string UpToDate = "up_to_date";
    /// <summary>The room's branch had nothing new: it moved forward to the member's commit.</summary>
    public const string FastForward = "fast_forward";
    /// <summary>Both had changed: a merge commit with both as parents landed on the room's branch.</summary>
    public const string Merged = "merged";
    /// <summary>Nothing landed; <see cref="SyncOutcome.Conflicts"/> says why, file by file.</summary>
    public const string Conflicts = "conflicts";
}

public static class SyncConflictKind
{
    /// <summary>The room's branch and the member changed the same lines (or one deleted what the other changed).</summary>
    public const string Content = "content";
    /// <summary>The room's shared worktree has uncommitted edits to a file the merge would change.</summary>
    public const string Worktree = "worktree";
}

/// <summary>
/// One file that stopped a sync. <see cref="Base"/>, <see cref="Ours"/> (the room's branch) and <see cref="Theirs"/>
/// (the member's work) are the file's text at the merge base and on each side, null where the side has no such file
/// or the file is binary or larger than the limit (<see cref="Binary"/>, <see cref="Truncated"/>).
/// </summary>
public sealed record SyncConflict(string Path, string Kind, string? Base, string? Ours, string? Theirs, bool Binary, bool Truncated);

/// <summary>What a sync did: the room branch's commit before and after, the member's commit, and any conflicts.</summary>
public sealed record SyncOutcome(
    Guid RoomId,
    string Login,
    string Status,
    string Branch,
    string MemberBranch,
    string? MemberCommit,
    string? Committed,
    string BaseCommit,
    string HeadCommit,
    IReadOnlyList<SyncConflict> Conflicts);

/// <summary>A publish: the sync, then the room's branch pushed to origin (or why it was not).</summary>
public sealed record PublishOutcome(SyncOutcome Sync, bool Pushed, string? PushError);

/// <summary>A member's own worktree as they see it: where it is against the room's branch, and what changed in it.</summary>
public sealed record PersonalWorktreeState(Guid RoomId, string Login, string Branch, string RoomBranch, string HeadCommit, string RoomCommit,
    int Ahead, int Behind, int ChangedFiles);
