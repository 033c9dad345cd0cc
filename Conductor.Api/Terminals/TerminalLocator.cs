using StackExchange.Redis;

namespace Conductor.Api.Terminals;

/// <summary>
/// Which Api instance holds each open terminal, as leases in Redis (<c>room:{room_id}:terminal:{terminal_id}:instance</c>
/// = this process's id, expiring after <see cref="LeaseTime"/> unless renewed). A PTY belongs to one machine: an
/// instance asked for a terminal another instance holds answers with an <c>other_instance</c> error frame instead of
/// a 404 or a second shell under the same id (docs/terminal.md). A crashed instance's leases run out by themselves.
/// </summary>
public sealed partial class TerminalLocator(IConnectionMultiplexer redis, ILogger<TerminalLocator> logger)
{
    /// <summary>How long a lease lives without renewal; <see cref="TerminalLeaseKeeper"/> renews every third of it.</summary>
    public static readonly TimeSpan LeaseTime = TimeSpan.FromSeconds(30);

    // Deletes the lease only while it is still ours (another instance may have taken the id since).
    private const string ReleaseScript = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0";

    /// <summary>This process's identity in the leases: new at every start, so a restarted instance owns nothing.</summary>
    public string InstanceId { get; } = Guid.NewGuid().ToString("N");

    /// <summary>
    /// Takes the lease for a terminal this instance is about to open. False when another instance holds it. Without
    /// Redis the terminal still opens here (logged): one instance keeps working, several lose only the redirect.
    /// </summary>
    public async Task<bool> TryClaimAsync(Guid roomId, string terminalId, CancellationToken cancellationToken)
    {
        try
        {
            var database = redis.GetDatabase();
            if (await database.StringSetAsync(Key(roomId, terminalId), InstanceId, LeaseTime, When.NotExists).WaitAsync(cancellationToken))
            {
                return true;
            }
            return await database.StringGetAsync(Key(roomId, terminalId)).WaitAsync(cancellationToken) == InstanceId;
        }
        catch (RedisException exception)
        {
            LogRedisUnavailable(logger, exception, terminalId, roomId);
            return true;
        }
    }

    /// <summary>True when a live lease says another instance holds the terminal.</summary>
    public async Task<bool> IsElsewhereAsync(Guid roomId, string terminalId, CancellationToken cancellationToken)
    {
        try
        {
            var owner = await redis.GetDatabase().StringGetAsync(Key(roomId, terminalId)).WaitAsync(cancellationToken);
            return owner.HasValue && owner != InstanceId;
        }
        catch (RedisException exception)
        {
            LogRedisUnavailable(logger, exception, terminalId, roomId);
            return false;
        }
    }

    /// <summary>Renews the leases of the terminals open here.</summary>
    public async Task RenewAsync(IEnumerable<(Guid RoomId, string TerminalId)> terminals, CancellationToken cancellationToken)
    {
        var database = redis.GetDatabase();
        foreach (var (roomId, terminalId) in terminals)
        {
            await database.StringSetAsync(Key(roomId, terminalId), InstanceId, LeaseTime).WaitAsync(cancellationToken);
        }
    }

    /// <summary>Gives the lease up when the terminal ends (only if it is still this instance's).</summary>
    public async Task ReleaseAsync(Guid roomId, string terminalId)
    {
        try
        {
            await redis.GetDatabase().ScriptEvaluateAsync(ReleaseScript, [Key(roomId, terminalId)], [InstanceId]);
        }
        catch (RedisException exception)
        {
            LogRedisUnavailable(logger, exception, terminalId, roomId);
        }
    }

    private static RedisKey Key(Guid roomId, string terminalId) => $"room:{roomId:D}:terminal:{terminalId}:instance";

    [LoggerMessage(Level = LogLevel.Warning, Message = "Redis unavailable for the lease of terminal {TerminalId} in room {RoomId}")]
    private static partial void LogRedisUnavailable(ILogger logger, Exception exception, string terminalId, Guid roomId);
}
