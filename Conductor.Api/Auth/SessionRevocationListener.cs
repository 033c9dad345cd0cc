using StackExchange.Redis;

namespace Conductor.Api.Auth;

/// <summary>
/// Keeps this instance's <see cref="SessionRevocations"/> current: subscribes to the revocation channel and loads the
/// stored set before the server listens (subscribed first, so a revocation in between is in one or both), reloads the
/// set a second after a lost Redis connection is back (StackExchange.Redis resubscribes after it reports the
/// connection restored; what was published meanwhile is in the set), and sweeps expired entries.
/// </summary>
public sealed partial class SessionRevocationListener(IConnectionMultiplexer redis, SessionRevocations revocations, TimeProvider timeProvider,
    ILogger<SessionRevocationListener> logger) : BackgroundService
{
    private static readonly TimeSpan SweepInterval = TimeSpan.FromMinutes(1);

    private ChannelMessageQueue? _subscription;
    private int _failures;

    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        _subscription = await redis.GetSubscriber().SubscribeAsync(SessionRevocations.RevokedChannel).WaitAsync(cancellationToken);
        _subscription.OnMessage(OnRevoked);
        redis.ConnectionFailed += OnConnectionFailed;
        redis.ConnectionRestored += OnConnectionRestored;
        var loaded = await revocations.LoadAsync(cancellationToken);
        LogLoaded(logger, loaded);
        await base.StartAsync(cancellationToken);
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);
        redis.ConnectionFailed -= OnConnectionFailed;
        redis.ConnectionRestored -= OnConnectionRestored;
        if (_subscription is not null)
        {
            await _subscription.UnsubscribeAsync();
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(SweepInterval, timeProvider);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            revocations.Sweep();
        }
    }

    private void OnRevoked(ChannelMessage message)
    {
        if (SessionRevocations.TryParse(message.Message.ToString(), out var sessionId, out var expires))
        {
            revocations.Apply(sessionId, expires);
        }
    }

    private void OnConnectionFailed(object? sender, ConnectionFailedEventArgs e)
    {
        Interlocked.Increment(ref _failures);
        LogConnectionLost(logger, e.ConnectionType, e.FailureType);
    }

    private void OnConnectionRestored(object? sender, ConnectionFailedEventArgs e)
    {
        var failures = Volatile.Read(ref _failures);
        _ = Task.Delay(TimeSpan.FromSeconds(1), timeProvider).ContinueWith(async _ =>
        {
            // Not if it failed again meanwhile (that failure's own restore reloads).
            if (Volatile.Read(ref _failures) != failures || !redis.IsConnected)
            {
                return;
            }
            try
            {
                LogReloaded(logger, await revocations.LoadAsync(CancellationToken.None));
            }
            catch (Exception exception) when (exception is RedisException or TimeoutException)
            {
                LogReloadFailed(logger, exception);
            }
        }, TaskScheduler.Default).Unwrap();
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
