namespace Conductor.Api.Changes;

public sealed record PolicyDecision(string Decision, double RiskScore, IReadOnlyList<string> Reasons);
