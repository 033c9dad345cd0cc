namespace Conductor.Api.Changes;

/// <summary>A file given to the agent: its content, or null when it does not exist yet.</summary>
public sealed record ContextFile(string Path, string? Content);
