using Conductor.Workspaces.Sync;

namespace Conductor.Api.Workspaces;

public sealed record SyncRequest(string? Message);

/// <summary>The answer to a sync that landed (or had nothing to land).</summary>
public sealed record SyncResponse(Guid RoomId, string Login, string Status, string Branch, string MemberBranch, string? Committed,
    string BaseCommit, string HeadCommit)
{
    public static SyncResponse From(SyncOutcome outcome) =>
        new(outcome.RoomId, outcome.Login, outcome.Status, outcome.Branch, outcome.MemberBranch, outcome.Committed, outcome.BaseCommit, outcome.HeadCommit);
}

public sealed record PublishResponse(SyncResponse Sync, bool Pushed, string? PushError);

public sealed record PushAccessResponse(Guid RoomId, Guid UserId, bool MayPush);
