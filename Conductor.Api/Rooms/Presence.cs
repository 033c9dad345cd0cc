using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Conductor.Api.Rooms;

/// <summary>
/// Who is connected to a room right now, across every Api instance. The chat transports call
/// <see cref="ConnectedAsync"/> on connect and on each heartbeat, and <see cref="DisconnectedAsync"/> on disconnect;
/// a connection that stops heart-beating (its instance died) drops out after <see cref="PresenceOptions.Ttl"/>.
/// Presence is per connection, so a user with two tabs stays online when one closes.
/// </summary>
public interface IPresence
{
    Task ConnectedAsync(Guid roomId, Guid userId, string connectionId, CancellationToken cancellationToken);

    Task DisconnectedAsync(Guid roomId, Guid userId, string connectionId, CancellationToken cancellationToken);

    /// <summary>Forgets every connection of the user in the room (they were removed or left).</summary>
    Task ForgetUserAsync(Guid roomId, Guid userId, CancellationToken cancellationToken);

    Task<IReadOnlySet<Guid>> GetOnlineAsync(Guid roomId, CancellationToken cancellationToken);
}

public sealed class PresenceOptions
{
    public const string SectionName = "Presence";

    /// <summary>How long a connection counts as online after its last heartbeat.</summary>
    public TimeSpan Ttl { get; set; } = TimeSpan.FromSeconds(60);
}

internal sealed class PresenceOptionsValidator : IValidateOptions<PresenceOptions>
{
    public ValidateOptionsResult Validate(string? name, PresenceOptions options) =>
        options.Ttl >= TimeSpan.FromSeconds(1) && options.Ttl <= TimeSpan.FromHours(1)
            ? ValidateOptionsResult.Success
            : ValidateOptionsResult.Fail($"Presence:Ttl must be between 1 second and 1 hour (got {options.Ttl}).");
}

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
