using System.Net.ServerSentEvents;
using System.Runtime.CompilerServices;
using System.Security.Claims;
using System.Text.Json;
using System.Text.RegularExpressions;
using System.Threading.Channels;
using Conductor.Api.Auth;
using Conductor.Jobs;
using Microsoft.AspNetCore.Http.HttpResults;
using StackExchange.Redis;

namespace Conductor.Api.Rooms;

/// <summary>
/// <c>GET /rooms/{room_id}/events</c>: the room's events (docs/events.md) as server-sent events, each with its
/// event id, resumable with <c>Last-Event-ID</c> (or <c>?last_event_id=</c>) from the room's event log. The chat
/// socket carries the same events live. The stream ends (the response completes) when the member is removed, or when
/// the session that opened it signs out, on whichever instance (<see cref="SessionConnections"/>).
/// </summary>
public static partial class RoomEventsApi
{
    /// <summary>Sent instead of the missed events when the log no longer holds them: the client reloads what it shows.</summary>
    public const string ResyncEvent = "resync";

    private static readonly TimeSpan Heartbeat = TimeSpan.FromSeconds(15);

    public static RouteGroupBuilder MapRoomEventsApi(this IEndpointRouteBuilder endpoints)
    {
        var group = endpoints.MapGroup("/rooms/{room_id}/events").WithTags("Rooms").RequireRoomAccess();
        group.MapGet("", StreamAsync).WithName("StreamRoomEvents");
        return group;
    }

    internal static Results<ServerSentEventsResult<string>, ProblemHttpResult> StreamAsync(RoomScope scope, string? last_event_id, HttpContext context,
        ClaimsPrincipal user, IConnectionMultiplexer redis, SessionConnections sessions)
    {
        var resumeFrom = context.Request.Headers["Last-Event-ID"].FirstOrDefault() ?? last_event_id;
        if (resumeFrom is not null && !EventId().IsMatch(resumeFrom))
        {
            return ApiProblems.Create(400, "Malformed event id", $"Last-Event-ID '{ApiProblems.Truncate(resumeFrom)}' is not an event id of this stream.",
                ApiProblems.MalformedIdCode);
        }
        context.Response.Headers["X-Accel-Buffering"] = "no";
        return TypedResults.ServerSentEvents(sessions.EndOnSignOut(user, ReadAsync(scope.RoomId, user.GetUserId(), resumeFrom, redis, context.RequestAborted), context.RequestAborted));
    }

    private static async IAsyncEnumerable<SseItem<string>> ReadAsync(Guid roomId, Guid userId, string? resumeFrom, IConnectionMultiplexer redis,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var database = redis.GetDatabase();
        var key = (RedisKey)RoomEventLog.LogKeyFor(roomId);
        // Subscribed before the log is read, so an event published in between is seen (by its log entry, once).
        var wake = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });
        var subscriber = redis.GetSubscriber();
        var channel = RedisChannel.Literal(RoomEventLog.ChannelFor(roomId));
        void Wake(RedisChannel _, RedisValue __) => wake.Writer.TryWrite(true);
        await subscriber.SubscribeAsync(channel, Wake);
        try
        {
            string last;
            if (resumeFrom is null)
            {
                // A new client starts from now: it loads the room's state itself and follows from here.
                var newest = await database.StreamRangeAsync(key, "-", "+", count: 1, messageOrder: Order.Descending);
                last = newest.Length > 0 ? newest[0].Id.ToString() : "0-0";
                yield return new SseItem<string>("{\"type\":\"ready\"}", "ready") { EventId = last == "0-0" ? null : last };
            }
            else
            {
                last = resumeFrom;
                var oldest = await database.StreamRangeAsync(key, "-", "+", count: 1);
                if (oldest.Length == 0 ? resumeFrom != "0-0" : Compare(oldest[0].Id.ToString(), resumeFrom) > 0 && await TrimmedAsync(database, key, resumeFrom))
                {
                    yield return new SseItem<string>("{\"type\":\"resync\"}", ResyncEvent);
                }
            }
            while (!cancellationToken.IsCancellationRequested)
            {
                var entries = await database.StreamRangeAsync(key, "(" + last, "+", count: 200);
                foreach (var entry in entries)
                {
                    last = entry.Id.ToString();
                    var payload = entry[RoomEventLog.PayloadField].ToString();
                    var type = TypeOf(payload);
                    var json = payload.Length > 1 && payload[0] == '{' && payload[1] != '}' ? $"{{\"event_id\":\"{last}\",{payload[1..]}" : payload;
                    yield return new SseItem<string>(json, type) { EventId = last };
                    if (type == RoomEvent.MemberRemoved && RemovedUser(payload) == userId)
                    {
                        yield break; // removed from the room: the stream ends with the event that says so
                    }
                }
                if (entries.Length == 200)
                {
                    continue;
                }
                using var heartbeat = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                heartbeat.CancelAfter(Heartbeat);
                bool woken;
                try
                {
                    woken = await wake.Reader.WaitToReadAsync(heartbeat.Token);
                    wake.Reader.TryRead(out _);
                }
                catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                {
                    woken = false;
                }
                if (!woken)
                {
                    // Keeps proxies from closing a quiet stream; also a poll in case a wake-up was lost.
                    yield return new SseItem<string>("{\"type\":\"heartbeat\"}", "heartbeat");
                }
            }
        }
        finally
        {
            await subscriber.UnsubscribeAsync(channel, Wake);
        }
    }

    /// <summary>Whether entries after <paramref name="resumeFrom"/> were trimmed away (the log is capped).</summary>
    private static async Task<bool> TrimmedAsync(IDatabase database, RedisKey key, string resumeFrom)
    {
        // XINFO STREAM's max-deleted-entry-id (Redis 7) is the newest id trimming removed.
        var info = await database.ExecuteAsync("XINFO", "STREAM", key);
        var fields = (RedisResult[])info!;
        for (var i = 0; i + 1 < fields.Length; i += 2)
        {
            if (fields[i].ToString() == "max-deleted-entry-id")
            {
                return Compare(fields[i + 1].ToString(), resumeFrom) > 0;
            }
        }
        return true; // an older Redis: assume the worst
    }

    private static int Compare(string left, string right)
    {
        static (ulong Ms, ulong Seq) Parse(string id)
        {
            var dash = id.IndexOf('-', StringComparison.Ordinal);
            return dash < 0 ? (ulong.Parse(id, System.Globalization.CultureInfo.InvariantCulture), 0)
                : (ulong.Parse(id.AsSpan(0, dash), System.Globalization.CultureInfo.InvariantCulture),
                    ulong.Parse(id.AsSpan(dash + 1), System.Globalization.CultureInfo.InvariantCulture));
        }
        return Parse(left).CompareTo(Parse(right));
    }

    private static string TypeOf(string payload)
    {
        try
        {
            using var document = JsonDocument.Parse(payload);
            return document.RootElement.TryGetProperty("type", out var type) && type.ValueKind == JsonValueKind.String ? type.GetString()! : "message";
        }
        catch (JsonException)
        {
            return "message";
        }
    }

    private static Guid? RemovedUser(string payload)
    {
        using var document = JsonDocument.Parse(payload);
        return document.RootElement.TryGetProperty("user_id", out var id) && id.TryGetGuid(out var userId) ? userId : null;
    }

    [GeneratedRegex("^[0-9]{1,20}-[0-9]{1,20}$")]
    private static partial Regex EventId();
}
