namespace Conductor.Api.Changes;

/// <summary>A text file of a room's worktree as read: its content and the etag a later write must match.</summary>
public sealed record WorkspaceFile(string Path, string Content, string ETag);
