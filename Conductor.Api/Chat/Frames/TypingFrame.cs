using System.Text.Json.Serialization;

namespace Conductor.Api.Chat;

/// <summary><c>typing</c>: someone is typing until <see cref="ExpiresAt"/>; published when it starts, and in a socket's welcome.</summary>
public sealed record TypingFrame(Guid RoomId, Guid UserId, string Login, DateTime ExpiresAt) : IChatFrame
{
    [JsonPropertyOrder(-1)]
    public string Type => "typing";

    public static TypingFrame For(Guid roomId, TypingUser user) => new(roomId, user.UserId, user.Login, user.ExpiresAt);
}
