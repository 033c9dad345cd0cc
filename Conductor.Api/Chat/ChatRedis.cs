using System.Globalization;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Conductor.Api.Chat;

/// <summary>Redis channel and key names. Every instance subscribes to <see cref="AllRooms"/> once.</summary>
public static class ChatChannels
{
    /// <summary>Matches <c>room:{id}:chat</c> (messages, typing, receipts, presence) and <c>room:{id}:events</c> (jobs, membership).</summary>
    public const string AllRooms = "room:*";

    public static string Chat(Guid roomId) => $"room:{roomId:D}:chat";

    public static string Events(Guid roomId) => $"room:{roomId:D}:events";

    /// <summary>The room id of a <c>room:{id}:...</c> channel.</summary>
    public static bool TryParse(string channel, out Guid roomId)
    {
        roomId = default;
        // "room:" + 36-char UUID + ":" + suffix
        return channel.Length > 42 && channel.StartsWith("room:", StringComparison.Ordinal) && channel[41] == ':'
            && Guid.TryParseExact(channel.AsSpan(5, 36), "D", out roomId);
    }
}

public enum RateBucket { Messages, History }

/// <summary>
/// Per-user token buckets kept in Redis, so the limit holds however many Api instances a user's connections are
/// spread over. The script reads Redis's own clock: instances with skewed clocks still agree.
/// </summary>
public sealed class ChatRateLimiter(IConnectionMultiplexer redis, IOptions<ChatOptions> options)
{
    // LuaScript runs EVALSHA and falls back to EVAL on NOSCRIPT (a restarted Redis has forgotten its scripts).
    private static readonly LuaScript TakeToken = LuaScript.Prepare("""
        local capacity = tonumber(@capacity)
        local per_ms = tonumber(@perMs)
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        local state = redis.call('HMGET', @key, 'tokens', 'at')
        local tokens = tonumber(state[1]) or capacity
        local at = tonumber(state[2]) or now
        tokens = math.min(capacity, tokens + math.max(0, now - at) * per_ms)
        local allowed = 0
        if tokens >= 1 then
            tokens = tokens - 1
            allowed = 1
        end
        redis.call('HSET', @key, 'tokens', tostring(tokens), 'at', tostring(now))
        redis.call('PEXPIRE', @key, math.ceil(capacity / per_ms) + 1000)
        return allowed
        """);

    /// <summary>Takes a token or throws <see cref="ChatException"/> with <c>rate_limited</c> (429).</summary>
    public async Task TakeAsync(RateBucket bucket, Guid userId, CancellationToken cancellationToken)
    {
        var limits = options.Value;
        var (capacity, perSecond, name) = bucket == RateBucket.Messages
            ? (limits.MessageBurst, limits.MessagesPerSecond, "messages")
            : (limits.HistoryBurst, limits.HistoryPerSecond, "history");
        var result = await TakeToken.EvaluateAsync(redis.GetDatabase(), new
        {
            key = (RedisKey)$"chat:rate:{name}:{userId:D}",
            capacity,
            perMs = (perSecond / 1000).ToString("R", CultureInfo.InvariantCulture),
        }).WaitAsync(cancellationToken);
        if ((long)result != 1)
        {
            throw new ChatException(ChatErrors.RateLimited,
                $"Too many {name} requests: at most {capacity} at once and {perSecond:0.##} per second.", StatusCodes.Status429TooManyRequests);
        }
    }
}

/// <summary>
/// Who is typing, per room: a Redis hash of user → expiry that every instance reads, so a client joining on any
/// instance mid-typing sees it. The hash itself expires with its last entry.
/// </summary>
public sealed class ChatTyping(IConnectionMultiplexer redis, TimeProvider timeProvider, IOptions<ChatOptions> options)
{
    private static string Key(Guid roomId) => $"chat:typing:{roomId:D}";

    public async Task<TypingUser> SetAsync(Guid roomId, ChatCaller caller, CancellationToken cancellationToken)
    {
        var ttl = options.Value.TypingTtl;
        var expiresAt = timeProvider.GetUtcNow() + ttl;
        var database = redis.GetDatabase();
        await database.HashSetAsync(Key(roomId), caller.UserId.ToString("D"), $"{expiresAt.ToUnixTimeMilliseconds()}|{caller.Login}").WaitAsync(cancellationToken);
        await database.KeyExpireAsync(Key(roomId), ttl).WaitAsync(cancellationToken);
        return new TypingUser(caller.UserId, caller.Login, expiresAt.UtcDateTime);
    }

    public async Task<IReadOnlyList<TypingUser>> GetAsync(Guid roomId, CancellationToken cancellationToken)
    {
        var now = timeProvider.GetUtcNow().ToUnixTimeMilliseconds();
        var typing = new List<TypingUser>();
        var expired = new List<RedisValue>();
        var database = redis.GetDatabase();
        foreach (var entry in await database.HashGetAllAsync(Key(roomId)).WaitAsync(cancellationToken))
        {
            var field = entry.Name.ToString();
            var text = entry.Value.ToString();
            var bar = text.IndexOf('|', StringComparison.Ordinal);
            if (bar > 0 && long.TryParse(text.AsSpan(0, bar), NumberStyles.None, CultureInfo.InvariantCulture, out var expiresMs)
                && Guid.TryParse(field, out var userId) && expiresMs > now)
            {
                typing.Add(new TypingUser(userId, text[(bar + 1)..], DateTimeOffset.FromUnixTimeMilliseconds(expiresMs).UtcDateTime));
            }
            else
            {
                expired.Add(entry.Name);
            }
        }
        if (expired.Count > 0)
        {
            await database.HashDeleteAsync(Key(roomId), [.. expired]).WaitAsync(cancellationToken);
        }
        return typing;
    }
}

/// <summary>
/// Who is online in a room, right across instances: one Redis hash entry per connection (user|connection →
/// expiry|login), refreshed by its instance while the connection lives. A crashed instance's entries run out after
/// <see cref="ChatOptions.PresenceLifetime"/>.
/// </summary>
public sealed class ChatPresence(IConnectionMultiplexer redis, TimeProvider timeProvider, IOptions<ChatOptions> options)
{
    // Adds or removes one connection and answers how many live connections the user still has in the room, so the
    // caller knows whether this was the user's first (user_joined) or last (user_left). Expired entries are pruned.
    private static readonly LuaScript Update = LuaScript.Prepare("""
        if @operation == 'add' then
            redis.call('HSET', @key, @field, @value)
            redis.call('PEXPIRE', @key, @lifetimeMs)
        else
            redis.call('HDEL', @key, @field)
        end
        local now = tonumber(@nowMs)
        local prefix = @prefix
        local entries = redis.call('HGETALL', @key)
        local live = 0
        for i = 1, #entries, 2 do
            local expires = tonumber(string.match(entries[i + 1], '^(%d+)'))
            if expires == nil or expires <= now then
                redis.call('HDEL', @key, entries[i])
            elseif string.sub(entries[i], 1, #prefix) == prefix then
                live = live + 1
            end
        end
        return live
        """);

    private static string Key(Guid roomId) => $"chat:presence:{roomId:D}";

    private static string Field(Guid userId, string connectionId) => $"{userId:D}|{connectionId}";

    /// <summary>Registers (or refreshes) a connection; returns the user's live connection count in the room.</summary>
    public Task<long> AddAsync(Guid roomId, Guid userId, string login, string connectionId, CancellationToken cancellationToken) =>
        RunAsync("add", roomId, userId, login, connectionId, cancellationToken);

    /// <summary>Removes a connection; returns the user's remaining live connection count in the room.</summary>
    public Task<long> RemoveAsync(Guid roomId, Guid userId, string connectionId, CancellationToken cancellationToken) =>
        RunAsync("remove", roomId, userId, "", connectionId, cancellationToken);

    public async Task<IReadOnlyList<OnlineUser>> GetOnlineAsync(Guid roomId, CancellationToken cancellationToken)
    {
        var now = timeProvider.GetUtcNow().ToUnixTimeMilliseconds();
        var online = new Dictionary<Guid, string>();
        foreach (var entry in await redis.GetDatabase().HashGetAllAsync(Key(roomId)).WaitAsync(cancellationToken))
        {
            var field = entry.Name.ToString();
            var text = entry.Value.ToString();
            var bar = text.IndexOf('|', StringComparison.Ordinal);
            if (bar > 0 && long.TryParse(text.AsSpan(0, bar), NumberStyles.None, CultureInfo.InvariantCulture, out var expiresMs) && expiresMs > now
                && field.Length > 36 && Guid.TryParseExact(field.AsSpan(0, 36), "D", out var userId))
            {
                online[userId] = text[(bar + 1)..];
            }
        }
        return online.Select(pair => new OnlineUser(pair.Key, pair.Value)).OrderBy(u => u.Login, StringComparer.Ordinal).ToList();
    }

    private async Task<long> RunAsync(string operation, Guid roomId, Guid userId, string login, string connectionId, CancellationToken cancellationToken)
    {
        var lifetime = options.Value.PresenceLifetime;
        var now = timeProvider.GetUtcNow();
        var result = await Update.EvaluateAsync(redis.GetDatabase(), new
        {
            key = (RedisKey)Key(roomId),
            operation,
            field = Field(userId, connectionId),
            value = $"{(now + lifetime).ToUnixTimeMilliseconds()}|{login}",
            prefix = $"{userId:D}|",
            lifetimeMs = (long)lifetime.TotalMilliseconds,
            nowMs = now.ToUnixTimeMilliseconds(),
        }).WaitAsync(cancellationToken);
        return (long)result;
    }
}
