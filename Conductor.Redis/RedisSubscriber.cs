using System.Threading.Channels;
using Conductor.Redis.Connections;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Conductor.Redis;

/// <summary>
/// Pub/sub on its own connection. Each channel or pattern is subscribed on the server once however many handlers
/// share it; every reconnect resubscribes all of them before anything else is sent. Each subscription delivers its
/// messages in order, one at a time, from its own queue, so a slow handler delays only itself (and, past
/// <see cref="MaxQueuedMessagesPerSubscription"/> waiting messages, loses the newest ones, counted and logged).
/// </summary>
public sealed class RedisSubscriber : IRedisSubscriber, IAsyncDisposable, IDisposable
{
    public const int MaxQueuedMessagesPerSubscription = 10_000;

    private readonly Dictionary<string, Topic> _channels = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Topic> _patterns = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();
    private readonly ILogger _logger;
    private readonly RedisConnection _connection;

    private RedisSubscriber(RedisConnectionOptions options, ILoggerFactory loggerFactory)
    {
        _logger = loggerFactory.CreateLogger<RedisSubscriber>();
        _connection = new RedisConnection(options, ConnectionRole.Subscriber, _logger, ResubscribeAsync, OnPush);
    }

    public bool IsConnected => _connection.IsConnected;

    /// <summary>Returns at once and connects in the background.</summary>
    public static RedisSubscriber Create(RedisConnectionOptions options, ILoggerFactory? loggerFactory = null)
    {
        var subscriber = new RedisSubscriber(options, loggerFactory ?? NullLoggerFactory.Instance);
        subscriber._connection.StartInBackground();
        return subscriber;
    }

    public static async Task<RedisSubscriber> ConnectAsync(RedisConnectionOptions options, ILoggerFactory? loggerFactory = null,
        CancellationToken cancellationToken = default)
    {
        var subscriber = new RedisSubscriber(options, loggerFactory ?? NullLoggerFactory.Instance);
        await subscriber._connection.StartAsync(options.AbortOnConnectFail, cancellationToken).ConfigureAwait(false);
        return subscriber;
    }

    public ValueTask<IRedisSubscription> SubscribeAsync(string channel, Func<RedisChannelMessage, CancellationToken, Task> handler,
        CancellationToken cancellationToken = default) =>
        AddAsync(channel, isPattern: false, handler, cancellationToken);

    public ValueTask<IRedisSubscription> SubscribePatternAsync(string pattern, Func<RedisChannelMessage, CancellationToken, Task> handler,
        CancellationToken cancellationToken = default) =>
        AddAsync(pattern, isPattern: true, handler, cancellationToken);

    /// <summary>For containers disposed synchronously; prefer <see cref="DisposeAsync"/>.</summary>
    public void Dispose() => DisposeAsync().AsTask().GetAwaiter().GetResult();

    public async ValueTask DisposeAsync()
    {
        List<Subscription> all;
        lock (_lock)
        {
            all = [.. _channels.Values.SelectMany(topic => topic.Subscriptions), .. _patterns.Values.SelectMany(topic => topic.Subscriptions)];
            _channels.Clear();
            _patterns.Clear();
        }
        foreach (var subscription in all)
        {
            await subscription.StopAsync().ConfigureAwait(false);
        }
        await _connection.DisposeAsync().ConfigureAwait(false);
    }

    private async ValueTask<IRedisSubscription> AddAsync(string name, bool isPattern, Func<RedisChannelMessage, CancellationToken, Task> handler,
        CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(handler);
        var subscription = new Subscription(this, name, isPattern, handler);
        Task confirmed;
        lock (_lock)
        {
            var topics = isPattern ? _patterns : _channels;
            if (!topics.TryGetValue(name, out var topic))
            {
                topic = new Topic();
                topics.Add(name, topic);
            }
            if (topic.Confirmed is null || topic.Confirmed.IsFaulted || topic.Confirmed.IsCanceled)
            {
                // Enqueued under the lock so SUBSCRIBE/UNSUBSCRIBE of one name reach the server in the order decided here.
                // Not tied to this caller's token: other subscribers of the same name share the confirmation.
                var command = isPattern ? "PSUBSCRIBE" : "SUBSCRIBE";
                topic.Confirmed = _connection.ExecuteAsync(command, [name], timeout: null, CancellationToken.None, CommandKind.PubSub).AsTask();
            }
            topic.Subscriptions.Add(subscription);
            confirmed = topic.Confirmed;
        }
        try
        {
            await confirmed.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            await subscription.DisposeAsync().ConfigureAwait(false);
            throw;
        }
        return subscription;
    }

    private async ValueTask RemoveAsync(Subscription subscription)
    {
        Task? unsubscribed = null;
        lock (_lock)
        {
            var topics = subscription.IsPattern ? _patterns : _channels;
            if (topics.TryGetValue(subscription.Channel, out var topic) && topic.Subscriptions.Remove(subscription) && topic.Subscriptions.Count == 0)
            {
                topics.Remove(subscription.Channel);
                var command = subscription.IsPattern ? "PUNSUBSCRIBE" : "UNSUBSCRIBE";
                unsubscribed = _connection.ExecuteAsync(command, [subscription.Channel], timeout: null, CancellationToken.None, CommandKind.PubSub).AsTask();
            }
        }
        await subscription.StopAsync().ConfigureAwait(false);
        if (unsubscribed is not null)
        {
            try
            {
                await unsubscribed.ConfigureAwait(false);
            }
            catch (Exception exception) when (exception is RedisException or TimeoutException or ObjectDisposedException)
            {
                // Not connected: the next reconnect does not resubscribe it, which is the same outcome.
            }
        }
    }

    /// <summary>Runs on every (re)connect, before queued commands are sent: every channel and pattern is subscribed again.</summary>
    private async Task ResubscribeAsync(PhysicalConnection physical, CancellationToken cancellationToken)
    {
        List<PendingCommand> commands;
        int channels, patterns;
        lock (_lock)
        {
            var timeout = _connection.Options.SyncTimeout;
            commands = [
                .. _channels.Keys.Select(channel => new PendingCommand("SUBSCRIBE", [channel], timeout, CommandKind.PubSub)),
                .. _patterns.Keys.Select(pattern => new PendingCommand("PSUBSCRIBE", [pattern], timeout, CommandKind.PubSub)),
            ];
            channels = _channels.Count;
            patterns = _patterns.Count;
        }
        if (commands.Count == 0)
        {
            return;
        }
        await physical.WriteAsync(commands, cancellationToken).ConfigureAwait(false);
        foreach (var command in commands)
        {
            await command.AsValueTask().ConfigureAwait(false);
        }
        RedisLog.Resubscribed(_logger, channels, patterns);
    }

    /// <summary>Called on the connection's read loop: must only hand the message over, never wait.</summary>
    private void OnPush(RedisResult frame)
    {
        var parts = frame.Elements;
        var kind = parts.Count > 0 ? parts[0].AsString() : null;
        RedisChannelMessage message;
        Dictionary<string, Topic> topics;
        string key;
        switch (kind)
        {
            case "message" or "smessage" when parts.Count >= 3:
                key = parts[1].AsString()!;
                message = new RedisChannelMessage(key, parts[2].AsValue());
                topics = _channels;
                break;
            case "pmessage" when parts.Count >= 4:
                key = parts[1].AsString()!;
                message = new RedisChannelMessage(parts[2].AsString()!, parts[3].AsValue(), key);
                topics = _patterns;
                break;
            default:
                RedisLog.UnexpectedPush(_logger, kind);
                return;
        }
        lock (_lock)
        {
            if (topics.TryGetValue(key, out var topic))
            {
                foreach (var subscription in topic.Subscriptions)
                {
                    subscription.Post(message);
                }
            }
        }
    }

    private sealed class Topic
    {
        /// <summary>The server's acknowledgement of the SUBSCRIBE; sent again when a previous one failed.</summary>
        public Task? Confirmed { get; set; }

        public List<Subscription> Subscriptions { get; } = [];
    }

    private sealed class Subscription : IRedisSubscription
    {
        private readonly RedisSubscriber _owner;
        private readonly Func<RedisChannelMessage, CancellationToken, Task> _handler;
        private readonly Channel<RedisChannelMessage> _queue = System.Threading.Channels.Channel.CreateBounded<RedisChannelMessage>(
            new BoundedChannelOptions(MaxQueuedMessagesPerSubscription) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });
        private readonly CancellationTokenSource _stopping = new();
        private readonly Task _pump;
        private int _disposed;

        public Subscription(RedisSubscriber owner, string channel, bool isPattern, Func<RedisChannelMessage, CancellationToken, Task> handler)
        {
            _owner = owner;
            _handler = handler;
            Channel = channel;
            IsPattern = isPattern;
            _pump = Task.Run(PumpAsync);
        }

        public string Channel { get; }

        public bool IsPattern { get; }

        public void Post(RedisChannelMessage message)
        {
            if (!_queue.Writer.TryWrite(message) && Volatile.Read(ref _disposed) == 0)
            {
                RedisTelemetry.MessagesDropped.Add(1);
                RedisLog.MessageDropped(_owner._logger, Channel);
            }
        }

        public async ValueTask DisposeAsync()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                await _owner.RemoveAsync(this).ConfigureAwait(false);
            }
        }

        public async Task StopAsync()
        {
            Volatile.Write(ref _disposed, 1);
            _queue.Writer.TryComplete();
            await _stopping.CancelAsync().ConfigureAwait(false);
            await _pump.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }

        private async Task PumpAsync()
        {
            try
            {
                await foreach (var message in _queue.Reader.ReadAllAsync(_stopping.Token).ConfigureAwait(false))
                {
                    try
                    {
                        await _handler(message, _stopping.Token).ConfigureAwait(false);
                    }
                    catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
                    {
                        return;
                    }
                    catch (Exception exception)
                    {
                        RedisLog.SubscriptionHandlerFailed(_owner._logger, exception, Channel);
                    }
                }
            }
            catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
            {
                // unsubscribed
            }
        }
    }
}
