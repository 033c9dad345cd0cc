namespace Conductor.Jobs;

/// <summary>One stream entry: its id and the job it points at.</summary>
public sealed record JobDelivery(string EntryId, Guid? JobId);

/// <summary>
/// The Redis side of the queue, narrowed to what the queue needs (stream, delayed set, pub/sub), so that the queue's
/// logic does not depend on the client's shape. <see cref="RedisJobTransport"/> implements it over StackExchange.Redis.
/// </summary>
public interface IJobTransport
{
    /// <summary>XGROUP CREATE … 0 MKSTREAM. True when the group was created (the stream was new or had been
    /// lost), false when it already existed (BUSYGROUP).</summary>
    Task<bool> EnsureGroupAsync(CancellationToken cancellationToken);

    /// <summary>XADD stream * job_id {id}, then PUBLISH on the stream's doorbell channel.</summary>
    Task<string> AddAsync(Guid jobId, CancellationToken cancellationToken);

    /// <summary>XACK.</summary>
    Task AckAsync(string entryId, CancellationToken cancellationToken);

    /// <summary>XAUTOCLAIM: entries idle longer than <paramref name="minIdle"/> become <paramref name="consumer"/>'s.</summary>
    Task<IReadOnlyList<JobDelivery>> AutoClaimAsync(string consumer, TimeSpan minIdle, int count, CancellationToken cancellationToken);

    /// <summary>ZADD delayed {due} {id}.</summary>
    Task ScheduleAsync(Guid jobId, DateTimeOffset due, CancellationToken cancellationToken);

    /// <summary>Due members of the delayed set, each removed by exactly one caller (ZREM decides who moves it).</summary>
    Task<IReadOnlyList<Guid>> TakeDueAsync(DateTimeOffset now, int max, CancellationToken cancellationToken);

    /// <summary>PUBLISH.</summary>
    Task PublishAsync(string channel, string message, CancellationToken cancellationToken);

    /// <summary>A consumer: non-blocking XREADGROUP woken by the stream's pub/sub doorbell (see <see cref="RedisJobTransport"/>).</summary>
    Task<IJobStreamConsumer> OpenConsumerAsync(string consumer, CancellationToken cancellationToken);
}

public interface IJobStreamConsumer : IAsyncDisposable
{
    /// <summary>XREADGROUP GROUP g consumer COUNT n STREAMS stream &gt;, and when that finds nothing, again after the
    /// doorbell rang or <paramref name="block"/> passed (empty then). Throws <see cref="JobStreamMissingException"/>
    /// when the group is gone (Redis lost its data).</summary>
    Task<IReadOnlyList<JobDelivery>> ReadAsync(int count, TimeSpan block, CancellationToken cancellationToken);
}

/// <summary>The stream or its consumer group no longer exists (NOGROUP): Redis restarted empty or was flushed.</summary>
public sealed class JobStreamMissingException(string message, Exception? innerException = null) : Exception(message, innerException);
