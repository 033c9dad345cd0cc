namespace Conductor.Api.Rooms;

/// <summary>Who may touch a room's resources: chat, files, workspace, changes and audit all ask this.</summary>
public interface IRoomMembership
{
    /// <summary>The user's role in the room, or null when they are not a member (or the room does not exist).</summary>
    Task<RoomRole?> GetRoleAsync(Guid roomId, Guid userId, CancellationToken cancellationToken);

    /// <summary>Whether the room has ended (read-only: no more writes of any kind).</summary>
    Task<bool> IsEndedAsync(Guid roomId, CancellationToken cancellationToken);
}
