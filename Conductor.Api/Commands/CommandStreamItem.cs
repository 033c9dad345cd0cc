namespace Conductor.Api.Commands;

/// <summary>What a watcher of one run receives: its output, then the final record.</summary>
public abstract record CommandStreamItem;
