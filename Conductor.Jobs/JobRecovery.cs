using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Conductor.Jobs;

/// <summary>
/// Makes Redis agree with Postgres again. Redis may lose the stream (restarted without persistence, flushed) or
/// a single entry (an XADD that failed after the insert); Postgres knows every job that still has to run. Sending
/// a job twice is harmless: claims are conditional and handlers idempotent.
/// </summary>
internal sealed partial class JobRecovery(
    JobStore store,
    IJobTransport transport,
    IOptions<JobQueueOptions> options,
    TimeProvider time,
    ILogger<JobRecovery> logger)
{
    private const int BatchSize = 500;

    /// <summary>
    /// Ensures the consumer group and re-sends what is missing. When the group had to be created, Redis lost the
    /// stream, so every unfinished job is re-sent; otherwise only those not dispatched for a while.
    /// </summary>
    public async Task<int> SweepAsync(bool redisWasReset, CancellationToken cancellationToken)
    {
        var groupCreated = await transport.EnsureGroupAsync(cancellationToken).ConfigureAwait(false);
        var everything = redisWasReset || groupCreated;
        var now = time.GetUtcNow();
        DateTimeOffset? dispatchedBefore = everything ? null : now - options.Value.RedispatchAfter;

        var total = 0;
        while (true)
        {
            var jobs = await store.FindRecoverableAsync(now, dispatchedBefore, BatchSize, cancellationToken).ConfigureAwait(false);
            foreach (var job in jobs)
            {
                if (job.Status == JobStatus.Queued && job.NextAttemptAt > now)
                {
                    await transport.ScheduleAsync(job.Id, job.NextAttemptAt.Value, cancellationToken).ConfigureAwait(false);
                }
                else
                {
                    await transport.AddAsync(job.Id, cancellationToken).ConfigureAwait(false);
                }
            }
            await store.MarkDispatchedAsync(jobs.Select(j => j.Id).ToList(), now, cancellationToken).ConfigureAwait(false);
            total += jobs.Count;
            // Marking them dispatched at `now` takes them out of the next page, except in the "everything" case.
            if (jobs.Count < BatchSize || dispatchedBefore is null)
            {
                break;
            }
        }

        if (total > 0 || everything)
        {
            LogSwept(logger, total, everything);
        }
        return total;
    }

    /// <summary>Moves due retries from the delayed set to the stream.</summary>
    public async Task<int> PromoteDueAsync(CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var due = await transport.TakeDueAsync(now, 100, cancellationToken).ConfigureAwait(false);
        foreach (var id in due)
        {
            await transport.AddAsync(id, cancellationToken).ConfigureAwait(false);
        }
        await store.MarkDispatchedAsync(due, now, cancellationToken).ConfigureAwait(false);
        return due.Count;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Recovery sweep re-sent {Count} job(s) to Redis (full sweep: {Full})")]
    private static partial void LogSwept(ILogger logger, int count, bool full);
}
