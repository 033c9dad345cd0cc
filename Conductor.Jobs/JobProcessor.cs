using System.Text.Json;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Conductor.Jobs;

/// <summary>
/// Handles one stream delivery: claims the job in Postgres, runs its handler under a renewed lease, stores the
/// outcome, and only then acks the entry. Any crash before the ack leaves the entry pending for XAUTOCLAIM.
/// </summary>
internal sealed partial class JobProcessor
{
    private const int MaxErrorLength = 4000;
    private readonly JobStore _store;
    private readonly IJobTransport _transport;
    private readonly JobEventPublisher _events;
    private readonly JobQueueOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger<JobProcessor> _logger;
    private readonly Dictionary<string, IJobHandler> _handlers;

    public JobProcessor(JobStore store, IJobTransport transport, JobEventPublisher events, IEnumerable<IJobHandler> handlers,
        IOptions<JobQueueOptions> options, TimeProvider time, ILogger<JobProcessor> logger)
    {
        _store = store;
        _transport = transport;
        _events = events;
        _options = options.Value;
        _time = time;
        _logger = logger;
        _handlers = new Dictionary<string, IJobHandler>(StringComparer.Ordinal);
        foreach (var handler in handlers)
        {
            if (!_handlers.TryAdd(handler.Kind, handler))
            {
                throw new InvalidOperationException($"Two job handlers are registered for kind '{handler.Kind}'.");
            }
        }
    }

    public IReadOnlyCollection<string> Kinds => _handlers.Keys;

    public async Task ProcessAsync(JobDelivery delivery, string workerId, CancellationToken stoppingToken)
    {
        if (delivery.JobId is not { } jobId)
        {
            LogMalformedEntry(_logger, delivery.EntryId);
            await _transport.AckAsync(delivery.EntryId, stoppingToken).ConfigureAwait(false);
            return;
        }

        var now = _time.GetUtcNow();
        var claim = await _store.TryClaimAsync(jobId, workerId, now, _options.LeaseDuration, stoppingToken).ConfigureAwait(false);
        switch (claim.Outcome)
        {
            case ClaimOutcome.Claimed:
                await RunAsync(claim.Job!, workerId, stoppingToken).ConfigureAwait(false);
                break;
            case ClaimOutcome.HeldElsewhere:
                // Not acked: if that worker dies, this pending entry is how the job comes back.
                LogHeldElsewhere(_logger, jobId, claim.Job!.LockedBy);
                return;
            case ClaimOutcome.NotDue:
                await _transport.ScheduleAsync(jobId, claim.Job!.NextAttemptAt!.Value, stoppingToken).ConfigureAwait(false);
                break;
            case ClaimOutcome.KeyBusy:
                LogKeyBusy(_logger, jobId, claim.Job!.ConcurrencyKey);
                await _transport.ScheduleAsync(jobId, now + _options.BusyRetryDelay, stoppingToken).ConfigureAwait(false);
                break;
            case ClaimOutcome.Exhausted:
                LogDead(_logger, jobId, claim.Job!.Kind, claim.Job.Attempts, claim.Job.Error);
                await _events.PublishAsync(claim.Job, JobStatus.Dead, null, claim.Job.Error, stoppingToken).ConfigureAwait(false);
                break;
            case ClaimOutcome.AlreadyFinished:
                LogDuplicate(_logger, jobId, claim.Job!.Status.ToName());
                break;
            case ClaimOutcome.Missing:
                LogMissing(_logger, jobId);
                break;
        }
        await _transport.AckAsync(delivery.EntryId, stoppingToken).ConfigureAwait(false);
    }

    private async Task RunAsync(JobRecord job, string workerId, CancellationToken stoppingToken)
    {
        LogStarted(_logger, job.Id, job.Kind, job.Attempts, job.MaxAttempts, workerId);
        await _events.PublishAsync(job, JobStatus.Running, null, $"attempt {job.Attempts} of {job.MaxAttempts}", stoppingToken).ConfigureAwait(false);

        using var attempt = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
        using var stopHeartbeat = new CancellationTokenSource();
        var leaseLost = false;
        var heartbeat = HeartbeatAsync(job.Id, workerId, () => { leaseLost = true; attempt.Cancel(); }, stopHeartbeat.Token);

        var context = new JobContext(job, workerId, (progress, message, ct) =>
            _events.PublishAsync(job, JobStatus.Running, progress, message, ct));
        Exception? failure = null;
        JsonElement? result = null;
        try
        {
            if (!_handlers.TryGetValue(job.Kind, out var handler))
            {
                throw new PermanentJobFailureException($"No handler is registered for job kind '{job.Kind}'.");
            }
            result = await handler.HandleAsync(context, attempt.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (attempt.IsCancellationRequested)
        {
            failure = null;
        }
        catch (Exception ex)
        {
            failure = ex;
        }
        finally
        {
            await stopHeartbeat.CancelAsync().ConfigureAwait(false);
            await heartbeat.ConfigureAwait(false);
        }

        if (attempt.IsCancellationRequested && failure is null)
        {
            if (leaseLost)
            {
                LogLeaseLost(_logger, job.Id, workerId);
                return;
            }
            // Shutting down: the attempt was interrupted, not failed. The lease expires and another worker
            // re-claims the entry; the interrupted attempt counts against max_attempts, which bounds a job that
            // always outlives the shutdown timeout.
            LogInterrupted(_logger, job.Id, job.Kind);
            stoppingToken.ThrowIfCancellationRequested();
        }

        var now = _time.GetUtcNow();
        if (failure is null)
        {
            var done = await _store.CompleteAsync(job.Id, workerId, result, now, CancellationToken.None).ConfigureAwait(false);
            if (done is null)
            {
                LogLeaseLost(_logger, job.Id, workerId);
                return;
            }
            LogSucceeded(_logger, job.Id, job.Kind, job.Attempts);
            await _events.PublishAsync(done, JobStatus.Succeeded, 1.0, null, CancellationToken.None).ConfigureAwait(false);
            return;
        }

        var permanent = failure is PermanentJobFailureException;
        var error = Truncate($"{failure.GetType().Name}: {failure.Message}");
        var retryAt = now + Backoff(job.Attempts);
        var failed = await _store.FailAsync(job.Id, workerId, error, permanent, retryAt, now, CancellationToken.None).ConfigureAwait(false);
        if (failed is null)
        {
            LogLeaseLost(_logger, job.Id, workerId);
            return;
        }
        switch (failed.Status)
        {
            case JobStatus.Queued:
                LogRetrying(_logger, failure, job.Id, job.Kind, job.Attempts, job.MaxAttempts, retryAt);
                await _transport.ScheduleAsync(job.Id, retryAt, CancellationToken.None).ConfigureAwait(false);
                await _events.PublishAsync(failed, JobStatus.Queued, null, $"attempt {job.Attempts} failed: {error}; retrying at {retryAt:O}", CancellationToken.None).ConfigureAwait(false);
                break;
            case JobStatus.Dead:
                LogDead(_logger, job.Id, job.Kind, job.Attempts, error);
                await _events.PublishAsync(failed, JobStatus.Dead, null, error, CancellationToken.None).ConfigureAwait(false);
                break;
            default:
                LogFailed(_logger, failure, job.Id, job.Kind);
                await _events.PublishAsync(failed, JobStatus.Failed, null, error, CancellationToken.None).ConfigureAwait(false);
                break;
        }
    }

    /// <summary>Renews the lease every third of its length; a failed renewal (another worker owns the job now) cancels the attempt.</summary>
    private async Task HeartbeatAsync(Guid jobId, string workerId, Action onLost, CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(_options.LeaseDuration / 3, _time);
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false))
            {
                try
                {
                    if (!await _store.RenewLeaseAsync(jobId, workerId, _time.GetUtcNow(), _options.LeaseDuration, cancellationToken).ConfigureAwait(false))
                    {
                        onLost();
                        return;
                    }
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    // Postgres unreachable for a moment: keep working, the lease has two more chances.
                    LogHeartbeatFailed(_logger, ex, jobId);
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    internal TimeSpan Backoff(int attempt)
    {
        var exponential = _options.BackoffBase * Math.Pow(2, Math.Clamp(attempt - 1, 0, 30));
        var capped = exponential > _options.BackoffMax ? _options.BackoffMax : exponential;
        // Jitter spreads out the retries of jobs that failed together (a remote being down).
        return capped * (1 + (Random.Shared.NextDouble() * 0.1));
    }

    private static string Truncate(string text) => text.Length <= MaxErrorLength ? text : text[..MaxErrorLength];

    [LoggerMessage(Level = LogLevel.Warning, Message = "Stream entry {EntryId} carries no job id; acknowledging it")]
    private static partial void LogMalformedEntry(ILogger logger, string entryId);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Job {JobId} is running on {Owner} under a current lease; leaving the entry pending")]
    private static partial void LogHeldElsewhere(ILogger logger, Guid jobId, string? owner);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Job {JobId} waits: another job with concurrency key {ConcurrencyKey} is running")]
    private static partial void LogKeyBusy(ILogger logger, Guid jobId, string? concurrencyKey);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Job {JobId} is already {Status}; acknowledging the duplicate delivery")]
    private static partial void LogDuplicate(ILogger logger, Guid jobId, string status);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId} is not in the database; acknowledging its entry")]
    private static partial void LogMissing(ILogger logger, Guid jobId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Running job {JobId} ({Kind}), attempt {Attempt} of {MaxAttempts}, on {WorkerId}")]
    private static partial void LogStarted(ILogger logger, Guid jobId, string kind, int attempt, int maxAttempts, string workerId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Job {JobId} ({Kind}) succeeded on attempt {Attempt}")]
    private static partial void LogSucceeded(ILogger logger, Guid jobId, string kind, int attempt);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId} ({Kind}) failed on attempt {Attempt} of {MaxAttempts}; retrying at {RetryAt}")]
    private static partial void LogRetrying(ILogger logger, Exception exception, Guid jobId, string kind, int attempt, int maxAttempts, DateTimeOffset retryAt);

    [LoggerMessage(Level = LogLevel.Error, Message = "Job {JobId} ({Kind}) is dead after {Attempts} attempts: {Error}")]
    private static partial void LogDead(ILogger logger, Guid jobId, string kind, int attempts, string? error);

    [LoggerMessage(Level = LogLevel.Error, Message = "Job {JobId} ({Kind}) failed permanently")]
    private static partial void LogFailed(ILogger logger, Exception exception, Guid jobId, string kind);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId} was taken over by another worker while {WorkerId} ran it; its outcome here is discarded")]
    private static partial void LogLeaseLost(ILogger logger, Guid jobId, string workerId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Job {JobId} ({Kind}) was interrupted by shutdown; another worker will take it over when its lease expires")]
    private static partial void LogInterrupted(ILogger logger, Guid jobId, string kind);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not renew the lease of job {JobId}")]
    private static partial void LogHeartbeatFailed(ILogger logger, Exception exception, Guid jobId);
}
