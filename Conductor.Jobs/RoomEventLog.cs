using StackExchange.Redis;

namespace Conductor.Jobs;

/// <summary>
/// Every room event goes through here: one Lua script appends it to the room's capped Redis stream
/// (<c>room:{room_id}:event-log</c>, the history <c>GET /rooms/{room_id}/events</c> resumes from with
/// <c>Last-Event-ID</c>) and publishes it, with its stream id as <c>event_id</c>, on <c>room:{room_id}:events</c> (what
/// the chat transports relay). One script, so the id a live subscriber sees is the id a resuming one asks for, and
/// no event is in one place but not the other. The log is a convenience for reconnecting clients: it is capped and
/// expires, and Postgres keeps whatever matters.
/// </summary>
public static class RoomEventLog
{
    /// <summary>Events kept per room (approximately: Redis trims whole nodes).</summary>
    public const int MaxLength = 2000;

    /// <summary>A quiet room's log goes this long after its last event.</summary>
    public static readonly TimeSpan Retention = TimeSpan.FromHours(24);

    private static readonly LuaScript Append = LuaScript.Prepare("""
        local id = redis.call('XADD', @log, 'MAXLEN', '~', @maxLength, '*', 'e', @payload)
        redis.call('PEXPIRE', @log, @retentionMs)
        local json = @payload
        if string.sub(json, 1, 1) == '{' and string.sub(json, 2, 2) ~= '}' then
            json = '{"event_id":"' .. id .. '",' .. string.sub(json, 2)
        end
        redis.call('PUBLISH', @channel, json)
        return id
        """);

    public static string ChannelFor(Guid roomId) => $"room:{roomId:D}:events";

    public static string LogKeyFor(Guid roomId) => $"room:{roomId:D}:event-log";

    /// <summary>Field of a log entry holding the event's JSON.</summary>
    public const string PayloadField = "e";

    /// <summary>Appends and publishes <paramref name="json"/> (a JSON object); returns its event id.</summary>
    public static async Task<string> PublishAsync(IDatabaseAsync database, Guid roomId, string json, CancellationToken cancellationToken)
    {
        var result = await Append.EvaluateAsync(database, new
        {
            log = (RedisKey)LogKeyFor(roomId),
            channel = ChannelFor(roomId),
            payload = json,
            maxLength = MaxLength,
            retentionMs = (long)Retention.TotalMilliseconds,
        }).WaitAsync(cancellationToken).ConfigureAwait(false);
        return result.ToString();
    }
}
