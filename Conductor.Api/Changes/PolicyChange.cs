namespace Conductor.Api.Changes;

/// <summary>What the policy looks at in one change.</summary>
public sealed record PolicyChange(string FilePath, string Type, string? Content, string? Diff);
