using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Conductor.Api.Rooms;

/// <summary>
/// A sorted set per room, <c>room:{id}:presence</c>: members <c>{user}:{connection}</c> scored with the time
/// (Unix ms) they stop counting. The key itself expires when the whole room goes quiet.
/// </summary>
public sealed class RedisPresence(IConnectionMultiplexer redis, IOptions<PresenceOptions> options, TimeProvider timeProvider) : IPresence
{
    public static string KeyFor(Guid roomId) => $"room:{roomId:D}:presence";

    public async Task ConnectedAsync(Guid roomId, Guid userId, string connectionId, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(connectionId);
        var database = redis.GetDatabase();
        var key = KeyFor(roomId);
        var now = timeProvider.GetUtcNow().ToUnixTimeMilliseconds();
        var ttl = options.Value.Ttl;
        var until = now + (long)ttl.TotalMilliseconds;
        // Unix milliseconds are far below 2^53, so the double scores are exact.
        await database.SortedSetAddAsync(key, Member(userId, connectionId), until).WaitAsync(cancellationToken);
        await database.SortedSetRemoveRangeByScoreAsync(key, double.NegativeInfinity, now, Exclude.Stop).WaitAsync(cancellationToken);
        // The key lives as long as its longest-lived connection: NX sets an expiry on a new key, GT only ever
        // extends it, so a writer with a shorter TTL (another instance's configuration) cannot cut others short.
        var keyLifetime = ttl * 2;
        await database.KeyExpireAsync(key, keyLifetime, ExpireWhen.HasNoExpiry).WaitAsync(cancellationToken);
        await database.KeyExpireAsync(key, keyLifetime, ExpireWhen.GreaterThanCurrentExpiry).WaitAsync(cancellationToken);
    }

    public async Task RefreshAsync(Guid roomId, IReadOnlyCollection<(Guid UserId, string ConnectionId)> connections, CancellationToken cancellationToken)
    {
        if (connections.Count == 0)
        {
            return;
        }
        var database = redis.GetDatabase();
        var key = KeyFor(roomId);
        var now = timeProvider.GetUtcNow().ToUnixTimeMilliseconds();
        var ttl = options.Value.Ttl;
        var until = now + (long)ttl.TotalMilliseconds;
        // Sent together (StackExchange.Redis pipelines what is not awaited in between): one round trip for the room.
        var keyLifetime = ttl * 2;
        await Task.WhenAll(
            database.SortedSetAddAsync(key, [.. connections.Select(c => new SortedSetEntry(Member(c.UserId, c.ConnectionId), until))]),
            database.SortedSetRemoveRangeByScoreAsync(key, double.NegativeInfinity, now, Exclude.Stop),
            database.KeyExpireAsync(key, keyLifetime, ExpireWhen.HasNoExpiry),
            database.KeyExpireAsync(key, keyLifetime, ExpireWhen.GreaterThanCurrentExpiry)).WaitAsync(cancellationToken);
    }

    public async Task DisconnectedAsync(Guid roomId, Guid userId, string connectionId, CancellationToken cancellationToken) =>
        await redis.GetDatabase().SortedSetRemoveAsync(KeyFor(roomId), Member(userId, connectionId)).WaitAsync(cancellationToken);

    public async Task ForgetUserAsync(Guid roomId, Guid userId, CancellationToken cancellationToken)
    {
        // Members sort by score, not name, so find the user's entries first; a room has few connections.
        var database = redis.GetDatabase();
        var key = KeyFor(roomId);
        var prefix = userId.ToString("D") + ":";
        var all = await database.SortedSetRangeByRankAsync(key).WaitAsync(cancellationToken);
        var mine = all.Where(m => m.ToString().StartsWith(prefix, StringComparison.Ordinal)).ToArray();
        if (mine.Length > 0)
        {
            await database.SortedSetRemoveAsync(key, mine).WaitAsync(cancellationToken);
        }
    }

    public async Task<IReadOnlySet<Guid>> GetOnlineAsync(Guid roomId, CancellationToken cancellationToken)
    {
        var now = timeProvider.GetUtcNow().ToUnixTimeMilliseconds();
        var members = await redis.GetDatabase().SortedSetRangeByScoreAsync(KeyFor(roomId), now, double.PositiveInfinity, Exclude.Start).WaitAsync(cancellationToken);
        var online = new HashSet<Guid>();
        foreach (var member in members)
        {
            var text = member.ToString();
            if (text is { Length: > 36 } && Guid.TryParse(text.AsSpan(0, 36), out var userId))
            {
                online.Add(userId);
            }
        }
        return online;
    }

    private static string Member(Guid userId, string connectionId) => $"{userId:D}:{connectionId}";
}
