namespace Conductor.Api.Ai;

public sealed record AiProbeResult(bool Available, long? LatencyMs, string? Error, DateTimeOffset? CheckedAt);
