namespace Conductor.Api.Chat;

/// <summary>A message about to be stored; the store assigns its seq and timestamp.</summary>
public sealed record NewChatMessage(Guid Id, Guid RoomId, Guid? UserId, string Login, string Kind, string ContentJson, Guid? ReplyTo);
