using System.Text.Json.Serialization;

namespace Conductor.Api.Changes;

public sealed record GenerateChangesRequest(Guid? RoomId, string? Instruction, IReadOnlyList<string>? Files);

public sealed record ChangeView(Guid Id, string FilePath, string Type,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Content, string Diff, string Rationale, string Status)
{
    public static ChangeView From(StoredChange change) =>
        new(change.Id, change.FilePath, change.Type, change.Content, change.Diff, change.Rationale, change.Status);
}

public sealed record ChangeSetResponse(Guid ChangeSetId, Guid RoomId, string Agent, string Provider, string Model,
    IReadOnlyList<string> ContextFiles, IReadOnlyList<ChangeView> Changes)
{
    public static ChangeSetResponse From(StoredChangeSet set) =>
        new(set.Id, set.RoomId, set.Agent, set.Provider, set.Model, set.ContextFiles, set.Changes.Select(ChangeView.From).ToList());
}

public sealed record PolicyChangeInput(string? FilePath, string? Type, string? Content, string? Diff);

public sealed record EvaluatePolicyRequest(Guid? ChangeSetId, IReadOnlyList<PolicyChangeInput>? Changes, IReadOnlyList<string>? ContextFiles);

public sealed record ApplyChangesRequest(IReadOnlyList<Guid>? ChangeIds);

public sealed record ApplyResult(Guid ChangeId, string FilePath, string Outcome, int Status,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Detail);

public sealed record ApplyResponse(Guid ChangeSetId, IReadOnlyList<ApplyResult> Results);
