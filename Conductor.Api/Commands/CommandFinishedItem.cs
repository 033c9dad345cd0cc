namespace Conductor.Api.Commands;

public sealed record CommandFinishedItem(CommandRun Run) : CommandStreamItem;
