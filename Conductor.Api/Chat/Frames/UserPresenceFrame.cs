using System.Text.Json.Serialization;

namespace Conductor.Api.Chat;

/// <summary><c>user_joined</c> / <c>user_left</c>: a user's first connection in the room on any instance, or their last one closed.</summary>
public sealed record UserPresenceFrame([property: JsonPropertyOrder(-1)] string Type, Guid RoomId, Guid UserId, string Login) : IChatFrame
{
    public const string Joined = "user_joined";
    public const string Left = "user_left";
}
