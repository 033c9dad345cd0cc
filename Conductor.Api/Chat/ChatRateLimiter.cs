using System.Collections.Concurrent;
using System.Globalization;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Conductor.Api.Chat;

/// <summary>
/// Per-user token buckets kept in Redis, so the limit holds however many Api instances a user's connections are
/// spread over. The script reads Redis's own clock: instances with skewed clocks still agree.
/// <para>
/// The message bucket is not asked once per message: an instance takes a user's tokens from Redis a few at a time
/// (<see cref="RateLease"/>), ahead of need, and spends them locally, so a message costs no Redis round trip. Every
/// message still spends a token the user's Redis bucket gave out; a leased token is dropped unused after
/// <see cref="ChatOptions.RateLeaseLifetime"/>, which bounds how far ahead tokens are taken (docs/chat.md gives the
/// tolerance).
/// </para>
/// </summary>
public sealed class ChatRateLimiter(IConnectionMultiplexer redis, IOptions<ChatOptions> options, TimeProvider timeProvider)
{
    /// <summary>Leasing needs a bucket this big or bigger (a lease is an eighth of it, so a small bucket is asked each time).</summary>
    public const int LeaseMinimumCapacity = 16;

    /// <summary>The most tokens one lease takes.</summary>
    public const int MaxLeaseSize = 16;

    // LuaScript runs EVALSHA and falls back to EVAL on NOSCRIPT (a restarted Redis has forgotten its scripts).
    // Takes up to @want whole tokens (what the bucket holds, if less) and returns how many it took.
    private static readonly LuaScript TakeTokens = LuaScript.Prepare("""
        local capacity = tonumber(@capacity)
        local per_ms = tonumber(@perMs)
        local want = tonumber(@want)
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        local state = redis.call('HMGET', @key, 'tokens', 'at')
        local tokens = tonumber(state[1]) or capacity
        local at = tonumber(state[2]) or now
        tokens = math.min(capacity, tokens + math.max(0, now - at) * per_ms)
        local taken = math.max(0, math.min(want, math.floor(tokens)))
        tokens = tokens - taken
        redis.call('HSET', @key, 'tokens', tostring(tokens), 'at', tostring(now))
        redis.call('PEXPIRE', @key, math.ceil(capacity / per_ms) + 1000)
        return taken
        """);

    private readonly ConcurrentDictionary<Guid, RateLease> _messageLeases = new();
    private long _nextSweep;

    /// <summary>Takes a token or throws <see cref="ChatException"/> with <c>rate_limited</c> (429).</summary>
    public Task TakeAsync(RateBucket bucket, Guid userId, CancellationToken cancellationToken)
    {
        var limits = options.Value;
        if (bucket != RateBucket.Messages)
        {
            return TakeAsync("history", limits.HistoryBurst, limits.HistoryPerSecond, userId, null, cancellationToken);
        }
        return LeaseSize(limits.MessageBurst) > 1
            ? TakeLeasedAsync(userId, limits, cancellationToken)
            : TakeAsync("messages", limits.MessageBurst, limits.MessagesPerSecond, userId, null, cancellationToken);
    }

    /// <summary>Takes a token from the user's bucket <paramref name="name"/> (other features' limits, e.g. AI answers).</summary>
    public async Task TakeAsync(string name, int capacity, double perSecond, Guid userId, string? what, CancellationToken cancellationToken)
    {
        if (await TakeFromRedisAsync(name, capacity, perSecond, userId, 1).WaitAsync(cancellationToken) != 1)
        {
            throw RateLimited(what ?? name, capacity, perSecond);
        }
    }

    /// <summary>How many message tokens one lease takes: an eighth of the burst, at most <see cref="MaxLeaseSize"/>; 1 means no leasing.</summary>
    public static int LeaseSize(int capacity) => capacity < LeaseMinimumCapacity ? 1 : Math.Min(MaxLeaseSize, capacity / 8);

    private async Task TakeLeasedAsync(Guid userId, ChatOptions limits, CancellationToken cancellationToken)
    {
        var size = LeaseSize(limits.MessageBurst);
        SweepIdleLeases(timeProvider.GetTimestamp(), limits.RateLeaseLifetime);
        var lease = _messageLeases.GetOrAdd(userId, _ => new RateLease());
        while (true)
        {
            var now = timeProvider.GetTimestamp();
            Task<RateLease.Refill> refill;
            lock (lease)
            {
                lease.LastUsed = now;
                if (lease.Pending is { IsCompleted: true })
                {
                    lease.Pending = null; // a refill that finished before it was recorded as pending
                }
                if (lease.Available > 0 && timeProvider.GetElapsedTime(lease.TakenAt, now) > limits.RateLeaseLifetime)
                {
                    // Taken too long ago: spending it now would let a burst exceed the bucket by more than the tolerance.
                    lease.Available = 0;
                }
                if (lease.Available > 0)
                {
                    lease.Available--;
                    // Half spent: the next lease is fetched now, off the sender's path.
                    if (lease.Available <= size / 2 && lease.Pending is null)
                    {
                        lease.Pending = RefillAsync(lease, userId, size, limits);
                    }
                    return;
                }
                refill = lease.Pending ??= RefillAsync(lease, userId, size, limits);
            }
            // Nothing left here: wait for Redis's answer (in flight already, or asked for now).
            var result = await refill.WaitAsync(cancellationToken);
            if (result.Failure is { } failure)
            {
                throw failure;
            }
            if (result.Taken == 0)
            {
                throw RateLimited("messages", limits.MessageBurst, limits.MessagesPerSecond);
            }
        }
    }

    /// <summary>Asks Redis for <paramref name="size"/> tokens and adds what it gave to the lease; never faults (the failure is in the result).</summary>
    private async Task<RateLease.Refill> RefillAsync(RateLease lease, Guid userId, int size, ChatOptions limits)
    {
        RateLease.Refill result;
        try
        {
            var taken = await TakeFromRedisAsync("messages", limits.MessageBurst, limits.MessagesPerSecond, userId, size);
            result = new RateLease.Refill(taken, null);
        }
        catch (Exception exception) when (exception is RedisException or TimeoutException)
        {
            result = new RateLease.Refill(0, exception);
        }
        lock (lease)
        {
            if (result.Taken > 0)
            {
                if (lease.Available == 0)
                {
                    lease.TakenAt = timeProvider.GetTimestamp();
                }
                lease.Available += (int)result.Taken;
            }
            lease.Pending = null;
        }
        return result;
    }

    private async Task<long> TakeFromRedisAsync(string name, int capacity, double perSecond, Guid userId, int want)
    {
        var result = await TakeTokens.EvaluateAsync(redis.GetDatabase(), new
        {
            key = (RedisKey)$"chat:rate:{name}:{userId:D}",
            capacity,
            perMs = (perSecond / 1000).ToString("R", CultureInfo.InvariantCulture),
            want,
        });
        return (long)result;
    }

    /// <summary>Forgets leases idle for a minute (their tokens had run out anyway), at most once a minute.</summary>
    private void SweepIdleLeases(long now, TimeSpan lifetime)
    {
        var next = Interlocked.Read(ref _nextSweep);
        if (now < next || Interlocked.CompareExchange(ref _nextSweep, now + (long)(TimeSpan.FromMinutes(1).TotalSeconds * timeProvider.TimestampFrequency), next) != next)
        {
            return;
        }
        var idle = TimeSpan.FromMinutes(1) + lifetime;
        foreach (var (userId, lease) in _messageLeases)
        {
            lock (lease)
            {
                if (lease.Pending is null && timeProvider.GetElapsedTime(lease.LastUsed, now) > idle)
                {
                    _messageLeases.TryRemove(userId, out _);
                }
            }
        }
    }

    private static ChatException RateLimited(string what, int capacity, double perSecond)
    {
        var rate = perSecond >= 1 ? $"{perSecond:0.##} per second" : $"{perSecond * 60:0.##} per minute";
        return new ChatException(ChatErrors.RateLimited,
            $"Too many {what} requests: at most {capacity} at once and {rate}.", StatusCodes.Status429TooManyRequests);
    }
}
