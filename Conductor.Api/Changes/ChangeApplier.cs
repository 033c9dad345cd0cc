using Conductor.Workspaces;

namespace Conductor.Api.Changes;

/// <summary>
/// Applies reviewed changes of a change set to the room's workspace, each only if its file is still as it was read
/// at generation, recording each outcome (applied or refused, with the reason) in the change's status and the audit
/// trail, and telling the room (<see cref="ChangeEvents"/>).
/// </summary>
public sealed partial class ChangeApplier(ChangeStore store, IWorkspaceFiles workspace, ChangeEvents events, ILogger<ChangeApplier> logger)
{
    /// <summary>Applies <paramref name="changes"/> in the set's order, whatever order they came in: later changes may build on earlier ones.</summary>
    public async Task<IReadOnlyList<ApplyResult>> ApplyAsync(StoredChangeSet set, IEnumerable<StoredChange> changes, Guid userId,
        CancellationToken cancellationToken)
    {
        var results = new List<ApplyResult>();
        foreach (var change in changes.OrderBy(c => c.Ordinal))
        {
            var refusal = await store.ApplyAsync(set, change, userId,
                ct => WriteAsync(set.RoomId, change, userId, ct), cancellationToken);
            LogApplied(logger, change.Id, set.Id, refusal is null ? "applied" : "refused", refusal);
            await events.ReviewedAsync(set.RoomId, change, refusal is null ? ChangeStatuses.Applied : ChangeStatuses.Refused, userId, refusal,
                cancellationToken);
            results.Add(refusal is null
                ? new ApplyResult(change.Id, change.FilePath, "applied", StatusCodes.Status200OK, null)
                : new ApplyResult(change.Id, change.FilePath, "refused", StatusCodes.Status409Conflict, refusal));
        }
        return results;
    }

    /// <summary>Writes (or deletes) the change's file if it is unchanged since generation; returns why not, or null.</summary>
    private async Task<string?> WriteAsync(Guid roomId, StoredChange change, Guid userId, CancellationToken cancellationToken)
    {
        try
        {
            var written = change.Type == ChangeTypes.Delete
                ? await workspace.DeleteAsync(roomId, change.FilePath, change.BaseETag!, userId, cancellationToken)
                : await workspace.WriteAsync(roomId, change.FilePath, change.Content!, change.BaseETag, userId, cancellationToken);
            if (written.Status != WorkspaceWriteStatus.PreconditionFailed)
            {
                return null;
            }
            return written.ETag is null ? "the file was deleted since the change was generated"
                : change.BaseETag is null ? "the file was created since the change was generated"
                : "the file changed since the change was generated";
        }
        catch (WorkspaceException ex)
        {
            // A path refused, no workspace, a file that is not text: the workspace's own words are the reason.
            return ex.Message;
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Change {ChangeId} of set {ChangeSetId}: {Outcome} {Reason}")]
    private static partial void LogApplied(ILogger logger, Guid changeId, Guid changeSetId, string outcome, string? reason);
}
