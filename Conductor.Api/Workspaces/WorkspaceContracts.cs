using System.Text.Json.Serialization;
using Conductor.Workspaces;

namespace Conductor.Api.Workspaces;

public sealed record CreateWorkspaceRequest(Guid? RoomId, string? RepoUrl, string? Token, string? BaseBranch);

public sealed record WorkspaceAccepted(Guid RoomId, Guid JobId, string Status);

/// <summary>A workspace as clients see it: the URL carries no credentials (they are refused at creation).</summary>
public sealed record WorkspaceResponse(Guid RoomId, string RepoUrl, string BaseBranch, string Branch, string Status, string? Error, string? HeadCommit)
{
    public static WorkspaceResponse From(WorkspaceRecord record) =>
        new(record.RoomId, record.RepoUrl, record.BaseBranch, record.Branch, record.Status, record.Error, record.HeadCommit);
}

public sealed record WriteFileRequest(string? Content, string? Encoding);

public sealed record WriteFileResponse(string Path, long Size, string Etag);

public sealed record RenameRequest(string? From, string? To);

public sealed record RenameResponse(string Path);

public sealed record CommitRequest(string? Message, bool? Push);

public sealed record JobAccepted(Guid RoomId, Guid JobId, string Status);

/// <summary>
/// A finished commit: <c>{committed: true, commit, pushed, push_error}</c>, or <c>{committed: false, reason}</c> when
/// there was nothing to commit. Members that do not apply to the case are left out, as clients have always seen it.
/// </summary>
public sealed record CommitResponse(
    bool Committed,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Commit,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] bool? Pushed,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? PushError,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Reason)
{
    public static CommitResponse From(CommitOutcome outcome) => outcome.Committed
        ? new(true, outcome.Commit, outcome.Pushed, outcome.PushError, null)
        : new(false, null, null, null, outcome.Reason);
}
