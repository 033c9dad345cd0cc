using Conductor.Api.Rooms;

namespace Conductor.Api.Changes;

/// <summary>
/// Tells the room's members, live, that a change set was proposed or a change decided, so every reviewer's list follows
/// (the chat socket, the hub and <c>GET /rooms/{room_id}/events</c>). Published after the fact committed; a lost event
/// costs a live update, never data (the lists read Postgres).
/// </summary>
public sealed class ChangeEvents(RoomEventPublisher publisher, TimeProvider time)
{
    public const string Proposed = "change_set_proposed";
    public const string Reviewed = "change_reviewed";

    public Task ProposedAsync(StoredChangeSet set, string login, PolicyDecision decision, CancellationToken cancellationToken) =>
        publisher.PublishAsync(set.RoomId, Proposed, new ChangeSetProposedEvent(Proposed, set.RoomId, set.Id, set.CreatedBy, login, set.Source,
            set.Agent, set.Changes.Count, decision.Decision, time.GetUtcNow()), cancellationToken);

    public Task ReviewedAsync(Guid roomId, StoredChange change, string status, Guid userId, string? detail, CancellationToken cancellationToken) =>
        publisher.PublishAsync(roomId, Reviewed, new ChangeReviewedEvent(Reviewed, roomId, change.ChangeSetId, change.Id, change.FilePath, status,
            userId, detail, time.GetUtcNow()), cancellationToken);
}
