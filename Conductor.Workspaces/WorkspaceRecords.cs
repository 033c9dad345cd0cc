namespace Conductor.Workspaces;

public static class WorkspaceStatus
{
    public const string Creating = "creating";
    public const string Ready = "ready";
    public const string Failed = "failed";
    public const string Deleting = "deleting";
}

/// <summary>A room's workspace as Postgres holds it.</summary>
public sealed record WorkspaceRecord(
    Guid RoomId,
    string RepoUrl,
    string StoreId,
    string BaseBranch,
    string Branch,
    string Status,
    string? Error,
    string? HeadCommit,
    Guid CreatedBy,
    Guid? JobId,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt)
{
    public static string BranchFor(Guid roomId) => $"session/{roomId:D}";
}

/// <summary>Job kinds the GitWorker runs for workspaces, and their payloads (never a secret in them).</summary>
public static class WorkspaceJobKinds
{
    public const string Create = "workspace.create";
    public const string Commit = "workspace.commit";
    public const string Delete = "workspace.delete";

    public static string ConcurrencyKey(Guid roomId) => $"workspace:{roomId:D}";
}

public sealed record CommitJobPayload(string Message, bool Push, Guid UserId, string AuthorName);

/// <summary>The commit job's result (stored as the job's result and returned by <c>?wait=</c>).</summary>
public sealed record CommitOutcome(bool Committed, string? Commit, bool Pushed, string? Reason, string? PushError);
