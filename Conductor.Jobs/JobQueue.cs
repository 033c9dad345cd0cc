using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Conductor.Jobs;

internal sealed partial class JobQueue(
    JobStore store,
    IJobTransport transport,
    JobEventPublisher events,
    IOptions<JobQueueOptions> options,
    TimeProvider timeProvider,
    ILogger<JobQueue> logger) : IJobQueue
{
    public async Task<JobRecord> EnqueueAsync(NewJob job, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(job.Kind);
        var now = timeProvider.GetUtcNow();
        var record = new JobRecord(
            Id: Guid.CreateVersion7(now),
            RoomId: job.RoomId,
            Kind: job.Kind,
            Payload: job.Payload,
            Status: JobStatus.Queued,
            Attempts: 0,
            MaxAttempts: job.MaxAttempts ?? options.Value.MaxAttempts,
            ConcurrencyKey: job.ConcurrencyKey,
            CreatedAt: now,
            UpdatedAt: now,
            StartedAt: null, FinishedAt: null, NextAttemptAt: null, Error: null, Result: null, LockedBy: null, LeaseExpiresAt: null);

        // Postgres first: once the row exists the job cannot be lost, whatever happens to the XADD.
        await store.InsertAsync(record, cancellationToken).ConfigureAwait(false);
        try
        {
            var entryId = await transport.AddAsync(record.Id, cancellationToken).ConfigureAwait(false);
            LogEnqueued(logger, record.Id, record.Kind, record.RoomId, entryId);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // The job is stored as queued; the workers' recovery sweep sends it when Redis is back.
            LogDispatchDeferred(logger, ex, record.Id, record.Kind);
        }
        await events.PublishAsync(record, JobStatus.Queued, progress: null, message: null, cancellationToken).ConfigureAwait(false);
        return record;
    }

    public Task<JobRecord?> GetAsync(Guid jobId, CancellationToken cancellationToken) => store.GetAsync(jobId, cancellationToken);

    [LoggerMessage(Level = LogLevel.Information, Message = "Enqueued job {JobId} ({Kind}) for room {RoomId} as stream entry {EntryId}")]
    private static partial void LogEnqueued(ILogger logger, Guid jobId, string kind, Guid roomId, string entryId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId} ({Kind}) is stored but could not be put on the stream; the recovery sweep will send it")]
    private static partial void LogDispatchDeferred(ILogger logger, Exception exception, Guid jobId, string kind);
}

/// <summary>Job events on the room's channel. Best effort: Postgres has the truth, a lost event loses nothing.</summary>
internal sealed partial class JobEventPublisher(IJobTransport transport, ILogger<JobEventPublisher> logger)
{
    public async Task PublishAsync(JobRecord job, JobStatus status, double? progress, string? message, CancellationToken cancellationToken)
    {
        var payload = new JobEvent(job.Id, job.Kind, status.ToName(), progress, message).ToJson();
        try
        {
            await transport.PublishAsync(JobEvent.ChannelFor(job.RoomId), payload, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            LogPublishFailed(logger, ex, job.Id, status.ToName());
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not publish the {Status} event of job {JobId}")]
    private static partial void LogPublishFailed(ILogger logger, Exception exception, Guid jobId, string status);
}
