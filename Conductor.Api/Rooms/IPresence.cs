namespace Conductor.Api.Rooms;

/// <summary>
/// Who is connected to a room right now, across every Api instance. The chat transports call
/// <see cref="ConnectedAsync"/> on connect and on each heartbeat, and <see cref="DisconnectedAsync"/> on disconnect;
/// a connection that stops heart-beating (its instance died) drops out after <see cref="PresenceOptions.Ttl"/>.
/// Presence is per connection, so a user with two tabs stays online when one closes.
/// </summary>
public interface IPresence
{
    Task ConnectedAsync(Guid roomId, Guid userId, string connectionId, CancellationToken cancellationToken);

    Task DisconnectedAsync(Guid roomId, Guid userId, string connectionId, CancellationToken cancellationToken);

    /// <summary>The heartbeat of many connections in one room at once (what <see cref="ConnectedAsync"/> does for one).</summary>
    Task RefreshAsync(Guid roomId, IReadOnlyCollection<(Guid UserId, string ConnectionId)> connections, CancellationToken cancellationToken);

    /// <summary>Forgets every connection of the user in the room (they were removed or left).</summary>
    Task ForgetUserAsync(Guid roomId, Guid userId, CancellationToken cancellationToken);

    Task<IReadOnlySet<Guid>> GetOnlineAsync(Guid roomId, CancellationToken cancellationToken);
}
