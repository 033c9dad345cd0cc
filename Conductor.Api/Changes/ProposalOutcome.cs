namespace Conductor.Api.Changes;

/// <summary>What became of a proposed change set: stored for review, applied (policy <c>apply_all</c>), or refused.</summary>
public sealed record ProposalOutcome(StoredChangeSet? Set, PolicyDecision Decision, IReadOnlyList<ApplyResult> Applied);
