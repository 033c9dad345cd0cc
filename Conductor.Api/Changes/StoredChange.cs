namespace Conductor.Api.Changes;

/// <summary>One proposed change of a change set, as stored.</summary>
public sealed record StoredChange(Guid Id, Guid ChangeSetId, int Ordinal, string FilePath, string Type, string? Content, string Diff,
    string Rationale, string? BaseETag, string Status);
