using System.Collections.Concurrent;
using System.Globalization;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Conductor.Api.Auth;

/// <summary>
/// The signed-out sessions (refresh-token families) whose access tokens are still within their lifetime, held in memory
/// on every instance so checking a token is a dictionary lookup, never a Redis or Postgres round trip. A revocation is
/// recorded in a Redis sorted set (member: the session id, score: when its last access token expires) and published on
/// a channel; <see cref="SessionRevocationListener"/> loads the set at start and after a Redis reconnect and applies
/// what the channel carries. Session ids are not secrets: no token or token hash goes to Redis. Live connections
/// watch their session (<see cref="Watch"/>) and close when it is revoked.
/// </summary>
public sealed partial class SessionRevocations(IConnectionMultiplexer redis, IOptions<AuthOptions> options, TimeProvider time,
    ILogger<SessionRevocations> logger)
{
    /// <summary>Sorted set of revoked session ids, scored by the Unix time (ms) until which their access tokens could live.</summary>
    public const string RevokedSetKey = "auth:revoked-sessions";

    /// <summary>Carries <c>{session id}:{expires unix ms}</c> for every revocation.</summary>
    public static readonly RedisChannel RevokedChannel = RedisChannel.Literal("auth:session-revoked");

    /// <summary>Instances' clocks may disagree a little about when an access token expires.</summary>
    private static readonly TimeSpan ClockSkew = TimeSpan.FromMinutes(1);

    private readonly ConcurrentDictionary<Guid, long> _revoked = new();
    private readonly Dictionary<Guid, List<Action>> _watchers = [];

    /// <summary>True when the session was signed out; a token without a session id (issued before sessions were named) is not.</summary>
    public bool IsRevoked(Guid? sessionId) => sessionId is { } id && _revoked.ContainsKey(id);

    /// <summary>How many revocations this instance holds (for logs and tests).</summary>
    public int Count => _revoked.Count;

    /// <summary>
    /// Refuses the session's access tokens here at once, then everywhere: records it in Redis and publishes it. Throws
    /// <see cref="RedisException"/> or <see cref="TimeoutException"/> when Redis cannot be reached: the other instances then do not know (the caller says so).
    /// </summary>
    public async Task RevokeAsync(Guid sessionId, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        // No access token of this session can outlive this: the family is revoked, so no new one is issued.
        var expires = (now + options.Value.AccessTokenLifetime + ClockSkew).ToUnixTimeMilliseconds();
        Apply(sessionId, expires);
        var database = redis.GetDatabase();
        var transaction = database.CreateTransaction();
        _ = transaction.SortedSetRemoveRangeByScoreAsync(RevokedSetKey, double.NegativeInfinity, now.ToUnixTimeMilliseconds());
        _ = transaction.SortedSetAddAsync(RevokedSetKey, sessionId.ToString("D"), expires);
        // The newest entry expires last, so the set as a whole can go when it does.
        _ = transaction.KeyExpireAsync(RevokedSetKey, DateTimeOffset.FromUnixTimeMilliseconds(expires).UtcDateTime);
        _ = transaction.PublishAsync(RevokedChannel, $"{sessionId:D}:{expires.ToString(CultureInfo.InvariantCulture)}");
        await transaction.ExecuteAsync().WaitAsync(cancellationToken);
        LogRevoked(logger, sessionId);
    }

    /// <summary>
    /// Calls <paramref name="onRevoked"/> once when the session is revoked (at once if it already is), on whichever
    /// instance the sign-out happened. Dispose the result when the connection ends.
    /// </summary>
    public IDisposable Watch(Guid? sessionId, Action onRevoked)
    {
        if (sessionId is not { } id)
        {
            return NoWatch.Instance;
        }
        lock (_watchers)
        {
            if (!_watchers.TryGetValue(id, out var list))
            {
                _watchers[id] = list = [];
            }
            list.Add(onRevoked);
        }
        var watch = new SessionWatch(this, id, onRevoked);
        if (IsRevoked(id))
        {
            Notify(id);
        }
        return watch;
    }

    /// <summary>A revocation from Redis (the channel or the stored set); also this instance's own.</summary>
    internal void Apply(Guid sessionId, long expiresUnixMs)
    {
        _revoked.AddOrUpdate(sessionId, expiresUnixMs, (_, existing) => Math.Max(existing, expiresUnixMs));
        Notify(sessionId);
    }

    /// <summary>Parses a channel message; false when it is not one of ours.</summary>
    internal static bool TryParse(string? message, out Guid sessionId, out long expiresUnixMs)
    {
        expiresUnixMs = 0;
        sessionId = Guid.Empty;
        var colon = message?.IndexOf(':', StringComparison.Ordinal) ?? -1;
        return colon > 0
            && Guid.TryParseExact(message.AsSpan(0, colon), "D", out sessionId)
            && long.TryParse(message.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out expiresUnixMs);
    }

    /// <summary>Reads the stored set: every revocation still within an access token's lifetime.</summary>
    internal async Task<int> LoadAsync(CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        var entries = await redis.GetDatabase().SortedSetRangeByScoreWithScoresAsync(RevokedSetKey, now, double.PositiveInfinity)
            .WaitAsync(cancellationToken);
        foreach (var entry in entries)
        {
            if (Guid.TryParseExact(entry.Element.ToString(), "D", out var id))
            {
                Apply(id, (long)entry.Score);
            }
        }
        return entries.Length;
    }

    /// <summary>Forgets revocations whose access tokens have all expired anyway.</summary>
    internal void Sweep()
    {
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        foreach (var (id, expires) in _revoked)
        {
            if (expires <= now)
            {
                _revoked.TryRemove(new KeyValuePair<Guid, long>(id, expires));
            }
        }
    }

    private void Notify(Guid sessionId)
    {
        Action[] callbacks;
        lock (_watchers)
        {
            if (!_watchers.Remove(sessionId, out var list))
            {
                return;
            }
            callbacks = [.. list];
        }
        foreach (var callback in callbacks)
        {
            try
            {
                callback();
            }
            catch (Exception exception)
            {
                LogWatcherFailed(logger, exception, sessionId);
            }
        }
    }

    private void Unwatch(Guid sessionId, Action onRevoked)
    {
        lock (_watchers)
        {
            if (_watchers.TryGetValue(sessionId, out var list) && list.Remove(onRevoked) && list.Count == 0)
            {
                _watchers.Remove(sessionId);
            }
        }
    }

    private sealed class SessionWatch(SessionRevocations owner, Guid sessionId, Action onRevoked) : IDisposable
    {
        public void Dispose() => owner.Unwatch(sessionId, onRevoked);
    }

    private sealed class NoWatch : IDisposable
    {
        public static readonly NoWatch Instance = new();

        public void Dispose()
        {
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Session {SessionId} revoked: its access tokens are refused on every instance")]
    private static partial void LogRevoked(ILogger logger, Guid sessionId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Closing a connection of revoked session {SessionId} failed")]
    private static partial void LogWatcherFailed(ILogger logger, Exception exception, Guid sessionId);
}
