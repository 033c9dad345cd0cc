namespace Conductor.Api.Chat;

/// <summary>Redis channel and key names. Every instance subscribes to <see cref="AllRooms"/> once.</summary>
public static class ChatChannels
{
    /// <summary>Matches <c>room:{id}:chat</c> (messages, typing, receipts, presence) and <c>room:{id}:events</c> (jobs, membership).</summary>
    public const string AllRooms = "room:*";

    public static string Chat(Guid roomId) => $"room:{roomId:D}:chat";

    public const string EventsSuffix = ":events";

    public static string Events(Guid roomId) => $"room:{roomId:D}{EventsSuffix}";

    /// <summary>The room id of a <c>room:{id}:...</c> channel.</summary>
    public static bool TryParse(string channel, out Guid roomId)
    {
        roomId = default;
        // "room:" + 36-char UUID + ":" + suffix
        return channel.Length > 42 && channel.StartsWith("room:", StringComparison.Ordinal) && channel[41] == ':'
            && Guid.TryParseExact(channel.AsSpan(5, 36), "D", out roomId);
    }
}
