namespace Conductor.Api.Changes;

/// <summary>A change set (an instruction, its context and the changes an agent proposed), as stored.</summary>
/// <param name="CreatedByLogin">The proposer's login, when read back (null on a set being created).</param>
public sealed record StoredChangeSet(Guid Id, Guid RoomId, Guid CreatedBy, string Agent, string Provider, string Model, string Instruction,
    IReadOnlyList<string> ContextFiles, DateTimeOffset CreatedAt, IReadOnlyList<StoredChange> Changes, string? CreatedByLogin = null)
{
    public string Source => ChangeSetSources.For(Provider);
}
