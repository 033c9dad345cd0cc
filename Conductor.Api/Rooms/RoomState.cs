namespace Conductor.Api.Rooms;

/// <summary>What every access decision needs about a room: whether it has ended, and its members' roles.</summary>
public sealed record RoomState(bool Ended, IReadOnlyDictionary<Guid, RoomRole> Members);
