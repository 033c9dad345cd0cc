using System.Collections.Concurrent;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Conductor.Jobs;

/// <summary>
/// The consumer host: reads the stream (XREADGROUP, woken by the stream's doorbell), re-claims entries that
/// dead consumers left pending (XAUTOCLAIM), moves due retries from the delayed set, and sweeps for jobs Redis
/// lost. Up to <see cref="JobQueueOptions.MaxConcurrentJobs"/> jobs run at once.
/// </summary>
internal sealed partial class JobWorker(
    JobProcessor processor,
    JobRecovery recovery,
    IJobTransport transport,
    IOptions<JobQueueOptions> options,
    TimeProvider time,
    ILogger<JobWorker> logger) : BackgroundService
{
    private readonly JobQueueOptions _options = options.Value;
    private readonly ConcurrentDictionary<Task, bool> _inFlight = new();
    private SemaphoreSlim? _slots;

    /// <summary>Unique per process, and never reused: a restarted worker must not inherit a dead one's pending entries by name.</summary>
    public string ConsumerName { get; } = $"{Environment.MachineName}-{Environment.ProcessId}-{Guid.NewGuid().ToString("N")[..8]}";

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        _slots = new SemaphoreSlim(_options.MaxConcurrentJobs, _options.MaxConcurrentJobs);
        LogStarting(logger, ConsumerName, _options.StreamName, _options.GroupName, string.Join(", ", processor.Kinds));
        await RetryUntilStoppedAsync("start-up sweep", ct => recovery.SweepAsync(redisWasReset: false, ct), stoppingToken).ConfigureAwait(false);

        var loops = new[]
        {
            ReadLoopAsync(stoppingToken),
            PeriodicAsync("re-claim", _options.ClaimIdleTimeout / 2, ReclaimAsync, stoppingToken),
            PeriodicAsync("delayed retries", _options.DelayedPollInterval, async ct => await recovery.PromoteDueAsync(ct).ConfigureAwait(false), stoppingToken),
            PeriodicAsync("recovery sweep", _options.SweepInterval, async ct => await recovery.SweepAsync(redisWasReset: false, ct).ConfigureAwait(false), stoppingToken),
        };
        try
        {
            await Task.WhenAll(loops).ConfigureAwait(false);
        }
        finally
        {
            // Let running handlers see the cancellation and finish (or give up) before the host disposes things.
            await Task.WhenAll(_inFlight.Keys).ConfigureAwait(false);
        }
    }

    private async Task ReadLoopAsync(CancellationToken stoppingToken)
    {
        var failures = 0;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await using var consumer = await transport.OpenConsumerAsync(ConsumerName, stoppingToken).ConfigureAwait(false);
                while (!stoppingToken.IsCancellationRequested)
                {
                    var taken = await TakeSlotsAsync(stoppingToken).ConfigureAwait(false);
                    IReadOnlyList<JobDelivery> deliveries;
                    try
                    {
                        deliveries = await consumer.ReadAsync(taken, _options.BlockTime, stoppingToken).ConfigureAwait(false);
                    }
                    catch
                    {
                        _slots!.Release(taken);
                        throw;
                    }
                    failures = 0;
                    Dispatch(deliveries, taken, stoppingToken);
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (JobStreamMissingException)
            {
                // Redis lost the stream (restarted empty): recreate the group and re-send everything Postgres has.
                LogStreamMissing(logger, _options.StreamName);
                await RetryUntilStoppedAsync("full recovery sweep", ct => recovery.SweepAsync(redisWasReset: true, ct), stoppingToken).ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                failures++;
                LogReadFailed(logger, ex, failures);
                await DelayAsync(RetryDelay(failures), stoppingToken).ConfigureAwait(false);
            }
        }
    }

    private async Task ReclaimAsync(CancellationToken stoppingToken)
    {
        var taken = await TakeSlotsAsync(stoppingToken).ConfigureAwait(false);
        IReadOnlyList<JobDelivery> deliveries;
        try
        {
            deliveries = await transport.AutoClaimAsync(ConsumerName, _options.ClaimIdleTimeout, taken, stoppingToken).ConfigureAwait(false);
        }
        catch
        {
            _slots!.Release(taken);
            throw;
        }
        if (deliveries.Count > 0)
        {
            LogReclaimed(logger, deliveries.Count, ConsumerName);
        }
        Dispatch(deliveries, taken, stoppingToken);
    }

    /// <summary>Waits for one free slot, then takes every other free one, so one read can fill them all.</summary>
    private async Task<int> TakeSlotsAsync(CancellationToken stoppingToken)
    {
        await _slots!.WaitAsync(stoppingToken).ConfigureAwait(false);
        var taken = 1;
        while (taken < _options.MaxConcurrentJobs && _slots.Wait(0, CancellationToken.None))
        {
            taken++;
        }
        return taken;
    }

    private void Dispatch(IReadOnlyList<JobDelivery> deliveries, int taken, CancellationToken stoppingToken)
    {
        var unused = taken - deliveries.Count;
        if (unused > 0)
        {
            _slots!.Release(unused);
        }
        foreach (var delivery in deliveries)
        {
            var task = Task.Run(() => ProcessOneAsync(delivery, stoppingToken), CancellationToken.None);
            _inFlight[task] = true;
            _ = task.ContinueWith(t => _inFlight.TryRemove(t, out _), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        }
    }

    private async Task ProcessOneAsync(JobDelivery delivery, CancellationToken stoppingToken)
    {
        try
        {
            await processor.ProcessAsync(delivery, ConsumerName, stoppingToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        catch (Exception ex)
        {
            // Left unacked: the entry comes back through XAUTOCLAIM once it has been idle long enough.
            LogProcessFailed(logger, ex, delivery.EntryId, delivery.JobId);
        }
        finally
        {
            _slots!.Release();
        }
    }

    private async Task PeriodicAsync(string name, TimeSpan interval, Func<CancellationToken, Task> work, CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(interval, time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
            {
                try
                {
                    await work(stoppingToken).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
                {
                    LogLoopFailed(logger, ex, name);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    private async Task RetryUntilStoppedAsync(string name, Func<CancellationToken, Task> work, CancellationToken stoppingToken)
    {
        for (var failures = 1; !stoppingToken.IsCancellationRequested; failures++)
        {
            try
            {
                await work(stoppingToken).ConfigureAwait(false);
                return;
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
            {
                LogLoopFailed(logger, ex, name);
                await DelayAsync(RetryDelay(failures), stoppingToken).ConfigureAwait(false);
            }
        }
    }

    private static TimeSpan RetryDelay(int failures) => TimeSpan.FromMilliseconds(Math.Min(5000, 100 * Math.Pow(2, Math.Min(failures, 10))));

    private async Task DelayAsync(TimeSpan delay, CancellationToken stoppingToken)
    {
        try
        {
            await Task.Delay(delay, time, stoppingToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
    }

    public override void Dispose()
    {
        _slots?.Dispose();
        base.Dispose();
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Job worker {ConsumerName} consuming {Stream} as group {Group}; kinds: {Kinds}")]
    private static partial void LogStarting(ILogger logger, string consumerName, string stream, string group, string kinds);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Stream {Stream} or its consumer group is gone (Redis lost its data); recreating it and re-sending unfinished jobs")]
    private static partial void LogStreamMissing(ILogger logger, string stream);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Reading the job stream failed ({Failures} in a row); reconnecting")]
    private static partial void LogReadFailed(ILogger logger, Exception exception, int failures);

    [LoggerMessage(Level = LogLevel.Information, Message = "Re-claimed {Count} stalled job entr(ies) for {ConsumerName}")]
    private static partial void LogReclaimed(ILogger logger, int count, string consumerName);

    [LoggerMessage(Level = LogLevel.Error, Message = "Processing stream entry {EntryId} (job {JobId}) failed; it stays pending for re-claim")]
    private static partial void LogProcessFailed(ILogger logger, Exception exception, string entryId, Guid? jobId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job worker loop {Loop} failed; it will try again")]
    private static partial void LogLoopFailed(ILogger logger, Exception exception, string loop);
}
