namespace Conductor.Api.Changes;

/// <summary>The room event <c>change_reviewed</c>: a change was applied, refused or skipped (see docs/events.md).</summary>
public sealed record ChangeReviewedEvent(string Type, Guid RoomId, Guid ChangeSetId, Guid ChangeId, string FilePath, string Status, Guid UserId,
    string? Detail, DateTimeOffset At);
