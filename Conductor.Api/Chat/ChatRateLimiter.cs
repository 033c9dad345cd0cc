using System.Globalization;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Conductor.Api.Chat;

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
    public Task TakeAsync(RateBucket bucket, Guid userId, CancellationToken cancellationToken)
    {
        var limits = options.Value;
        return bucket == RateBucket.Messages
            ? TakeAsync("messages", limits.MessageBurst, limits.MessagesPerSecond, userId, null, cancellationToken)
            : TakeAsync("history", limits.HistoryBurst, limits.HistoryPerSecond, userId, null, cancellationToken);
    }

    /// <summary>Takes a token from the user's bucket <paramref name="name"/> (other features' limits, e.g. AI answers).</summary>
    public async Task TakeAsync(string name, int capacity, double perSecond, Guid userId, string? what, CancellationToken cancellationToken)
    {
        var result = await TakeToken.EvaluateAsync(redis.GetDatabase(), new
        {
            key = (RedisKey)$"chat:rate:{name}:{userId:D}",
            capacity,
            perMs = (perSecond / 1000).ToString("R", CultureInfo.InvariantCulture),
        }).WaitAsync(cancellationToken);
        if ((long)result != 1)
        {
            var rate = perSecond >= 1 ? $"{perSecond:0.##} per second" : $"{perSecond * 60:0.##} per minute";
            throw new ChatException(ChatErrors.RateLimited,
                $"Too many {what ?? name} requests: at most {capacity} at once and {rate}.", StatusCodes.Status429TooManyRequests);
        }
    }
}
