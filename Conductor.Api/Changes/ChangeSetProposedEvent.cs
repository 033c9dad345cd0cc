namespace Conductor.Api.Changes;

/// <summary>The room event <c>change_set_proposed</c>: a change set was stored for the room (see docs/events.md).</summary>
public sealed record ChangeSetProposedEvent(string Type, Guid RoomId, Guid ChangeSetId, Guid UserId, string Login, string Source, string Agent,
    int Changes, string Decision, DateTimeOffset At);
