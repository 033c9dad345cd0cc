namespace Conductor.Api.Changes;

/// <summary>The outcome of a conditional write: the new etag, or the current one when the precondition failed (null: absent).</summary>
public sealed record WorkspaceWriteResult(WorkspaceWriteStatus Status, string? ETag);
