namespace Conductor.Api.Commands;

public sealed record CommandOutputItem(OutputChunk Chunk) : CommandStreamItem;
