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
/// what the channel carries. Session ids are not secrets: no token or token hash goes to Redis. Every revocation it
/// learns of is raised as <see cref="Revoked"/>, which ends the session's live connections (<see cref="SessionConnections"/>).
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

    /// <summary>
    /// Raised for every revocation this instance applies (its own, the channel's, the stored set's; a session may be
    /// raised more than once), after <see cref="IsRevoked"/> answers true for it.
    /// </summary>
    public event Action<Guid>? Revoked;

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

    /// <summary>A revocation from Redis (the channel or the stored set); also this instance's own.</summary>
    internal void Apply(Guid sessionId, long expiresUnixMs)
    {
        _revoked.AddOrUpdate(sessionId, expiresUnixMs, (_, existing) => Math.Max(existing, expiresUnixMs));
        Revoked?.Invoke(sessionId);
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

    [LoggerMessage(Level = LogLevel.Information, Message = "Session {SessionId} revoked: its access tokens are refused on every instance")]
    private static partial void LogRevoked(ILogger logger, Guid sessionId);
}
