namespace Conductor.Workspaces.Personal;

/// <summary>
/// Which worktree of a room a request acts on: the room's shared one (<see cref="Login"/> null) or a member's own
/// (<c>worktree=me</c>). A room id converts to the shared worktree, so callers that know only the room need no change.
/// </summary>
public readonly record struct WorktreeTarget(Guid RoomId, string? Login)
{
    public bool IsPersonal => Login is not null;

    public static implicit operator WorktreeTarget(Guid roomId) => new(roomId, null);

    public static WorktreeTarget Shared(Guid roomId) => new(roomId, null);

    public static WorktreeTarget Personal(Guid roomId, string login) => new(roomId, login);
}
