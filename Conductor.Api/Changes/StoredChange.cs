namespace Conductor.Api.Changes;

/// <summary>One proposed change of a change set, as stored.</summary>
/// <param name="Status">Its review state (<see cref="ChangeStatuses"/>).</param>
/// <param name="Detail">Why it was refused, when it was.</param>
public sealed record StoredChange(Guid Id, Guid ChangeSetId, int Ordinal, string FilePath, string Type, string? Content, string Diff,
    string Rationale, string? BaseETag, string Status, string? Detail = null);
