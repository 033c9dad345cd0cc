using System.Text.Json.Serialization;

namespace Conductor.Api.Chat;

/// <summary><c>presence</c>: who is online in the room, the first frame a socket receives once it joined.</summary>
public sealed record PresenceFrame(Guid RoomId, IReadOnlyList<OnlineUser> Users) : IChatFrame
{
    [JsonPropertyOrder(-1)]
    public string Type => "presence";
}
