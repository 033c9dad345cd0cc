namespace Conductor.Api.Commands;

/// <summary>A piece of a run's output, numbered from 1 in the order it was read.</summary>
public sealed record OutputChunk(long Seq, string Text);
