namespace Conductor.Api.Commands;

/// <summary>The outcome of asking to run: the run started, or a problem to answer with.</summary>
public sealed record CommandStart(RunningCommand? Running, int Status, string? Code, string? Title, string? Detail);
