using StackExchange.Redis;

namespace Conductor.Api;

/// <summary>
/// A hosted Redis subscription whose owner must not act on what it missed while Redis was away. Subscribed before the
/// server listens (a message queue: handed over one at a time, in Redis's order); told when any Redis connection fails
/// (over RESP3 one connection carries commands and subscriptions alike); told again once a restored connection has
/// been back for a second without failing meanwhile, because StackExchange.Redis resubscribes only after it reports the
/// connection restored, and what was published in between never arrives.
/// </summary>
public abstract class RedisListener(IConnectionMultiplexer redis, RedisChannel channel, TimeProvider timeProvider) : BackgroundService
{
    private ChannelMessageQueue? _subscription;
    private int _failures;

    /// <summary>The clock, for the owner's own timers too.</summary>
    protected TimeProvider Time { get; } = timeProvider;

    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        _subscription = await redis.GetSubscriber().SubscribeAsync(channel).WaitAsync(cancellationToken);
        _subscription.OnMessage(OnMessage);
        redis.ConnectionFailed += OnConnectionFailed;
        redis.ConnectionRestored += OnConnectionRestored;
        await OnSubscribedAsync(cancellationToken);
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

    /// <summary>One message of the channel (or pattern), in the order Redis sent them.</summary>
    protected abstract void OnMessage(ChannelMessage message);

    /// <summary>Runs once subscribed, before the server listens: load what the messages will keep current.</summary>
    protected virtual Task OnSubscribedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>A Redis connection failed: messages may be missed from now on.</summary>
    protected abstract void OnConnectionLost(ConnectionFailedEventArgs e);

    /// <summary>Redis has been back (and resubscribed) for a second: catch up on what was missed.</summary>
    protected abstract Task OnConnectionBackAsync();

    private void OnConnectionFailed(object? sender, ConnectionFailedEventArgs e)
    {
        Interlocked.Increment(ref _failures);
        OnConnectionLost(e);
    }

    private void OnConnectionRestored(object? sender, ConnectionFailedEventArgs e)
    {
        var failures = Volatile.Read(ref _failures);
        _ = Task.Delay(TimeSpan.FromSeconds(1), Time).ContinueWith(async _ =>
        {
            // Not if it failed again meanwhile: that failure's own restore catches up.
            if (Volatile.Read(ref _failures) == failures && redis.IsConnected)
            {
                await OnConnectionBackAsync();
            }
        }, TaskScheduler.Default).Unwrap();
    }
}
