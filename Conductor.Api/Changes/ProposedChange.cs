namespace Conductor.Api.Changes;

/// <summary>One change as an agent proposes it, before it is checked against the workspace.</summary>
public sealed record ProposedChange(string FilePath, string Type, string? Content, string Rationale);
