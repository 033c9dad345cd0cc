using System.Text.Json;

namespace Conductor.Api.Rooms;

/// <summary>
/// A membership change, published as JSON on <c>room:{room_id}:events</c> (the channel job events use too) so the
/// chat transports on every instance can relay it, and drop a removed member's connections.
/// </summary>
/// <param name="Type"><c>member_joined</c>, <c>member_left</c>, <c>member_removed</c>, <c>host_transferred</c> or <c>room_ended</c>.</param>
/// <param name="UserId">The member who joined, left or was removed; the new host for <c>host_transferred</c>.</param>
/// <param name="ByUserId">Who did it (the host, for removals, transfers and the end).</param>
public sealed record RoomEvent(string Type, Guid RoomId, Guid? UserId, string? Login, string? Role, Guid? ByUserId, DateTimeOffset At)
{
    public const string MemberJoined = "member_joined";
    public const string MemberLeft = "member_left";
    public const string MemberRemoved = "member_removed";
    public const string HostTransferred = "host_transferred";
    public const string RoomEnded = "room_ended";

    public static string ChannelFor(Guid roomId) => $"room:{roomId:D}:events";

    /// <summary>Whether an event of this type changes who may do what in the room (job progress, on the same channel, does not).</summary>
    public static bool ChangesAccess(string? type) => type is MemberJoined or MemberLeft or MemberRemoved or HostTransferred or RoomEnded;

    public static readonly JsonSerializerOptions SerializerOptions = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull,
    };
}
