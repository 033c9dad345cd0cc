using System.Globalization;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Conductor.Jobs;

/// <summary>
/// <see cref="IJobTransport"/> over StackExchange.Redis. The stream and its consumer group carry the job ids; after
/// each XADD a PUBLISH on the stream's doorbell channel wakes idle consumers at once, because StackExchange.Redis
/// does not do blocking XREADGROUP (it would stall the multiplexed connection every caller shares).
/// </summary>
internal sealed class RedisJobTransport(IConnectionMultiplexer redis, IOptions<JobQueueOptions> options) : IJobTransport
{
    public const string JobIdField = "job_id";
    private readonly JobQueueOptions _options = options.Value;

    private IDatabase Database => redis.GetDatabase();

    /// <summary>The pub/sub channel rung after every XADD on <paramref name="streamName"/>.</summary>
    public static RedisChannel DoorbellFor(string streamName) => RedisChannel.Literal($"{streamName}:doorbell");

    public async Task<bool> EnsureGroupAsync(CancellationToken cancellationToken)
    {
        try
        {
            // From 0, not $: entries added before the group existed (an enqueue racing a Redis restart) are delivered too.
            return await Database.StreamCreateConsumerGroupAsync(_options.StreamName, _options.GroupName, "0", createStream: true)
                .WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (RedisServerException ex) when (ex.Message.StartsWith("BUSYGROUP", StringComparison.Ordinal))
        {
            return false;
        }
    }

    public async Task<string> AddAsync(Guid jobId, CancellationToken cancellationToken)
    {
        var entryId = await Database.StreamAddAsync(_options.StreamName, JobIdField, jobId.ToString("D")).WaitAsync(cancellationToken).ConfigureAwait(false);
        // Fire and forget: a lost ring only costs a consumer its fallback poll (JobQueueOptions.BlockTime).
        await Database.PublishAsync(DoorbellFor(_options.StreamName), entryId, CommandFlags.FireAndForget).ConfigureAwait(false);
        return entryId.ToString();
    }

    public async Task AckAsync(string entryId, CancellationToken cancellationToken) =>
        await Database.StreamAcknowledgeAsync(_options.StreamName, _options.GroupName, entryId).WaitAsync(cancellationToken).ConfigureAwait(false);

    public async Task<IReadOnlyList<JobDelivery>> AutoClaimAsync(string consumer, TimeSpan minIdle, int count, CancellationToken cancellationToken)
    {
        try
        {
            var result = await Database.StreamAutoClaimAsync(_options.StreamName, _options.GroupName, consumer, (long)minIdle.TotalMilliseconds, "0-0", count)
                .WaitAsync(cancellationToken).ConfigureAwait(false);
            // Entries deleted while pending come back as null entries; skip them (XAUTOCLAIM already dropped them from the PEL).
            return [.. result.ClaimedEntries.Where(entry => !entry.IsNull).Select(ToDelivery)];
        }
        catch (RedisServerException ex) when (IsNoGroup(ex))
        {
            throw new JobStreamMissingException(ex.Message, ex);
        }
    }

    public async Task ScheduleAsync(Guid jobId, DateTimeOffset due, CancellationToken cancellationToken) =>
        await Database.SortedSetAddAsync(_options.DelayedSetName, jobId.ToString("D"), due.ToUnixTimeMilliseconds()).WaitAsync(cancellationToken).ConfigureAwait(false);

    public async Task<IReadOnlyList<Guid>> TakeDueAsync(DateTimeOffset now, int max, CancellationToken cancellationToken)
    {
        var database = Database;
        var due = await database.SortedSetRangeByScoreAsync(_options.DelayedSetName, double.NegativeInfinity, now.ToUnixTimeMilliseconds(), take: max)
            .WaitAsync(cancellationToken).ConfigureAwait(false);
        var taken = new List<Guid>();
        foreach (var member in due)
        {
            // ZREM answers true to exactly one of the workers racing for this member.
            if (await database.SortedSetRemoveAsync(_options.DelayedSetName, member).WaitAsync(cancellationToken).ConfigureAwait(false)
                && Guid.TryParse(member.ToString(), CultureInfo.InvariantCulture, out var id))
            {
                taken.Add(id);
            }
        }
        return taken;
    }

    public async Task PublishAsync(string channel, string message, CancellationToken cancellationToken)
    {
        // Room events also go to the room's event log, so the event stream can resume past a disconnect.
        if (channel.Length == 48 && channel.StartsWith("room:", StringComparison.Ordinal) && channel.EndsWith(":events", StringComparison.Ordinal)
            && Guid.TryParseExact(channel.AsSpan(5, 36), "D", out var roomId))
        {
            await RoomEventLog.PublishAsync(Database, roomId, message, cancellationToken).ConfigureAwait(false);
            return;
        }
        await Database.PublishAsync(RedisChannel.Literal(channel), message).WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    public async Task<IJobStreamConsumer> OpenConsumerAsync(string consumer, CancellationToken cancellationToken)
    {
        var opened = new Consumer(redis, _options, consumer);
        await opened.SubscribeAsync().WaitAsync(cancellationToken).ConfigureAwait(false);
        return opened;
    }

    internal static bool IsNoGroup(RedisServerException ex) => ex.Message.StartsWith("NOGROUP", StringComparison.Ordinal);

    private static JobDelivery ToDelivery(StreamEntry entry) =>
        new(entry.Id.ToString(), Guid.TryParse(entry[JobIdField].ToString(), CultureInfo.InvariantCulture, out var id) ? id : null);

    /// <summary>
    /// Reads without blocking; when the stream has nothing new it waits for the doorbell (a PUBLISH after each
    /// XADD), or at most the block time (the fallback poll for a ring lost while Redis was away), then reads again.
    /// </summary>
    private sealed class Consumer(IConnectionMultiplexer redis, JobQueueOptions options, string name) : IJobStreamConsumer
    {
        private readonly RedisChannel _doorbell = DoorbellFor(options.StreamName);
        private TaskCompletionSource _bell = NewBell();

        public Task SubscribeAsync() => redis.GetSubscriber().SubscribeAsync(_doorbell, OnRing);

        public async Task<IReadOnlyList<JobDelivery>> ReadAsync(int count, TimeSpan block, CancellationToken cancellationToken)
        {
            // Taken before the read: a ring between the read and the wait completes this one, so it is never missed.
            var bell = Volatile.Read(ref _bell);
            var deliveries = await ReadOnceAsync(count, cancellationToken).ConfigureAwait(false);
            if (deliveries.Count > 0)
            {
                return deliveries;
            }
            try
            {
                await bell.Task.WaitAsync(block, cancellationToken).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                // The fallback poll: read again in any case.
            }
            return await ReadOnceAsync(count, cancellationToken).ConfigureAwait(false);
        }

        private async Task<IReadOnlyList<JobDelivery>> ReadOnceAsync(int count, CancellationToken cancellationToken)
        {
            try
            {
                var entries = await redis.GetDatabase().StreamReadGroupAsync(options.StreamName, options.GroupName, name, StreamPosition.NewMessages, count)
                    .WaitAsync(cancellationToken).ConfigureAwait(false);
                return [.. entries.Select(ToDelivery)];
            }
            catch (RedisServerException ex) when (IsNoGroup(ex))
            {
                throw new JobStreamMissingException(ex.Message, ex);
            }
        }

        private void OnRing(RedisChannel channel, RedisValue message) =>
            Interlocked.Exchange(ref _bell, NewBell()).TrySetResult();

        private static TaskCompletionSource NewBell() => new(TaskCreationOptions.RunContinuationsAsynchronously);

        public async ValueTask DisposeAsync()
        {
            try
            {
                await redis.GetSubscriber().UnsubscribeAsync(_doorbell, OnRing).ConfigureAwait(false);
            }
            catch (RedisException)
            {
                // Redis is away: the subscription goes with the connection; nothing to undo.
            }
        }
    }
}
