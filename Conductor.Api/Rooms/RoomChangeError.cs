namespace Conductor.Api.Rooms;

/// <summary>Why a room change was refused, decided inside the transaction that would have made it.</summary>
public enum RoomChangeError { None, NoSuchRoom, NotHost, Ended, NotAMember, TargetIsSelf, HostCannotLeave, InviteUnknown, InviteExpired, InviteUsed, RemovedFromRoom }
