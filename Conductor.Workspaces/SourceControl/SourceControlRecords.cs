namespace Conductor.Workspaces.SourceControl;

/// <summary>One changed path, as an IDE's source-control view lists it.</summary>
/// <param name="State">added, modified, deleted, renamed, type_changed, conflicted or untracked.</param>
/// <param name="Staged">Whether the change is in the index (Conductor stages at commit time, so usually false).</param>
public sealed record ChangedFile(string Path, string State, bool Staged, string? OldPath);

public sealed record WorkspaceStatusResponse(Guid RoomId, string Branch, string? HeadCommit, IReadOnlyList<ChangedFile> Files);

/// <summary>A unified diff of the working file against the session branch's HEAD; empty when unchanged.</summary>
public sealed record WorkspaceDiffResponse(Guid RoomId, string Path, string? HeadCommit, bool Binary, int LinesAdded, int LinesDeleted, string Patch);

public sealed record CommitSummary(string Sha, string Message, string AuthorName, string AuthorEmail, DateTimeOffset AuthoredAt, IReadOnlyList<string> Parents);

public sealed record WorkspaceLogResponse(Guid RoomId, string Branch, IReadOnlyList<CommitSummary> Commits);
