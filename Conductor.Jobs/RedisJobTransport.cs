using System.Globalization;
using Conductor.Redis;
using Microsoft.Extensions.Options;

namespace Conductor.Jobs;

/// <summary><see cref="IJobTransport"/> over Conductor.Redis.</summary>
internal sealed class RedisJobTransport(IRedisClient redis, IOptions<JobQueueOptions> options) : IJobTransport
{
    public const string JobIdField = "job_id";
    private readonly JobQueueOptions _options = options.Value;

    public async Task<bool> EnsureGroupAsync(CancellationToken cancellationToken) =>
        // From 0, not $: entries added before the group existed (an enqueue racing a Redis restart) are delivered too.
        await redis.StreamCreateGroupAsync(_options.StreamName, _options.GroupName, startId: "0", createStream: true, cancellationToken).ConfigureAwait(false);

    public async Task<string> AddAsync(Guid jobId, CancellationToken cancellationToken) =>
        await redis.StreamAddAsync(_options.StreamName, [new(JobIdField, jobId.ToString("D"))], cancellationToken: cancellationToken).ConfigureAwait(false);

    public async Task AckAsync(string entryId, CancellationToken cancellationToken) =>
        await redis.StreamAcknowledgeAsync(_options.StreamName, _options.GroupName, [entryId], cancellationToken).ConfigureAwait(false);

    public async Task<IReadOnlyList<JobDelivery>> AutoClaimAsync(string consumer, TimeSpan minIdle, int count, CancellationToken cancellationToken)
    {
        try
        {
            var result = await redis.StreamAutoClaimAsync(_options.StreamName, _options.GroupName, consumer, minIdle, "0-0", count, cancellationToken).ConfigureAwait(false);
            return [.. result.Claimed.Select(ToDelivery)];
        }
        catch (RedisServerException ex) when (ex.ErrorCode == "NOGROUP")
        {
            throw new JobStreamMissingException(ex.Message, ex);
        }
    }

    public async Task ScheduleAsync(Guid jobId, DateTimeOffset due, CancellationToken cancellationToken) =>
        await redis.ExecuteAsync("ZADD", [_options.DelayedSetName, due.ToUnixTimeMilliseconds(), jobId.ToString("D")], cancellationToken).ConfigureAwait(false);

    public async Task<IReadOnlyList<Guid>> TakeDueAsync(DateTimeOffset now, int max, CancellationToken cancellationToken)
    {
        var due = await redis.ExecuteAsync("ZRANGEBYSCORE",
            [_options.DelayedSetName, "-inf", now.ToUnixTimeMilliseconds(), "LIMIT", 0, max], cancellationToken).ConfigureAwait(false);
        var taken = new List<Guid>();
        foreach (var member in due.Elements)
        {
            var text = member.AsString();
            // ZREM answers 1 to exactly one of the workers racing for this member.
            var removed = await redis.ExecuteAsync("ZREM", [_options.DelayedSetName, text], cancellationToken).ConfigureAwait(false);
            if (removed.AsInt64() == 1 && Guid.TryParse(text, CultureInfo.InvariantCulture, out var id))
            {
                taken.Add(id);
            }
        }
        return taken;
    }

    public async Task PublishAsync(string channel, string message, CancellationToken cancellationToken) =>
        await redis.PublishAsync(channel, message, cancellationToken).ConfigureAwait(false);

    public Task<IJobStreamConsumer> OpenConsumerAsync(string consumer, CancellationToken cancellationToken) =>
        Task.FromResult<IJobStreamConsumer>(new Consumer(redis, _options, consumer));

    private static JobDelivery ToDelivery(StreamEntry entry) =>
        new(entry.Id, Guid.TryParse(entry[JobIdField].ToString(), CultureInfo.InvariantCulture, out var id) ? id : null);

    /// <summary>XREADGROUP … BLOCK goes to the client's dedicated blocking connections, never the shared one.</summary>
    private sealed class Consumer(IRedisClient redis, JobQueueOptions options, string name) : IJobStreamConsumer
    {
        public async Task<IReadOnlyList<JobDelivery>> ReadAsync(int count, TimeSpan block, CancellationToken cancellationToken)
        {
            try
            {
                var entries = await redis.StreamReadGroupAsync(options.StreamName, options.GroupName, name, count, block, cancellationToken: cancellationToken).ConfigureAwait(false);
                return [.. entries.Select(ToDelivery)];
            }
            catch (RedisServerException ex) when (ex.ErrorCode == "NOGROUP")
            {
                throw new JobStreamMissingException(ex.Message, ex);
            }
        }

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
