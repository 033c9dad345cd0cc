namespace Conductor.Api.Changes;

/// <summary>A change set (an instruction, its context and the changes an agent proposed), as stored.</summary>
public sealed record StoredChangeSet(Guid Id, Guid RoomId, Guid CreatedBy, string Agent, string Provider, string Model, string Instruction,
    IReadOnlyList<string> ContextFiles, DateTimeOffset CreatedAt, IReadOnlyList<StoredChange> Changes);
