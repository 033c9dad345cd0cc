using StackExchange.Redis;

namespace Conductor.Api.Auth;

/// <summary>
/// Keeps this instance's <see cref="SessionRevocations"/> current: subscribes to the revocation channel and loads the
/// stored set before the server listens (subscribed first, so a revocation in between is in one or both), reloads the
/// set a second after a lost Redis connection is back (StackExchange.Redis resubscribes after it reports the
/// connection restored; what was published meanwhile is in the set), and sweeps expired entries.
/// </summary>
public sealed partial class SessionRevocationListener(IConnectionMultiplexer redis, SessionRevocations revocations, TimeProvider timeProvider,
    ILogger<SessionRevocationListener> logger) : RedisListener(redis, SessionRevocations.RevokedChannel, timeProvider)
{
    private static readonly TimeSpan SweepInterval = TimeSpan.FromMinutes(1);

    protected override async Task OnSubscribedAsync(CancellationToken cancellationToken) =>
        LogLoaded(logger, await revocations.LoadAsync(cancellationToken));

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(SweepInterval, Time);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            revocations.Sweep();
        }
    }

    protected override void OnMessage(ChannelMessage message)
    {
        if (SessionRevocations.TryParse(message.Message.ToString(), out var sessionId, out var expires))
        {
            revocations.Apply(sessionId, expires);
        }
    }

    protected override void OnConnectionLost(ConnectionFailedEventArgs e) => LogConnectionLost(logger, e.ConnectionType, e.FailureType);

    protected override async Task OnConnectionBackAsync()
    {
        try
        {
            LogReloaded(logger, await revocations.LoadAsync(CancellationToken.None));
        }
        catch (Exception exception) when (exception is RedisException or TimeoutException)
        {
            LogReloadFailed(logger, exception);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Loaded {Count} revoked session(s) from Redis")]
    private static partial void LogLoaded(ILogger logger, int count);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Redis connection ({ConnectionType}) lost ({FailureType}); sessions signed out on other instances are refused here once it is back")]
    private static partial void LogConnectionLost(ILogger logger, ConnectionType connectionType, ConnectionFailureType failureType);

    [LoggerMessage(Level = LogLevel.Information, Message = "Redis connection restored; reloaded {Count} revoked session(s)")]
    private static partial void LogReloaded(ILogger logger, int count);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Reloading the revoked sessions after a Redis reconnect failed")]
    private static partial void LogReloadFailed(ILogger logger, Exception exception);
}
