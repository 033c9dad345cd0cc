using Microsoft.Extensions.Options;

namespace Conductor.Jobs;

/// <summary>Bound from the <c>Jobs</c> configuration section; validated at start-up.</summary>
public sealed class JobQueueOptions
{
    public const string SectionName = "Jobs";

    public string StreamName { get; set; } = "conductor:jobs";
    public string GroupName { get; set; } = "gitworkers";
    /// <summary>Sorted set of job ids waiting for their retry time (score: due time, Unix milliseconds).</summary>
    public string DelayedSetName { get; set; } = "conductor:jobs:delayed";

    /// <summary>
    /// The fallback poll: how long an idle consumer waits for the stream's doorbell (the PUBLISH after each XADD)
    /// before it reads the stream again anyway. New jobs normally wake it at once; this bounds the wait for entries
    /// whose ring was lost (sent while the consumer was reconnecting, or by the recovery sweep of another process).
    /// </summary>
    public TimeSpan BlockTime { get; set; } = TimeSpan.FromSeconds(5);
    /// <summary>An entry pending this long (its consumer stopped acking) is re-claimed with XAUTOCLAIM.</summary>
    public TimeSpan ClaimIdleTimeout { get; set; } = TimeSpan.FromSeconds(60);
    /// <summary>How long a claimed job stays owned without a heartbeat; a dead worker's jobs free themselves after it.</summary>
    public TimeSpan LeaseDuration { get; set; } = TimeSpan.FromSeconds(60);

    public int MaxAttempts { get; set; } = 5;
    /// <summary>Retry n waits BackoffBase × 2^(n-1) (plus up to 10% jitter), at most BackoffMax.</summary>
    public TimeSpan BackoffBase { get; set; } = TimeSpan.FromSeconds(2);
    public TimeSpan BackoffMax { get; set; } = TimeSpan.FromMinutes(5);
    /// <summary>How soon a job is tried again when another job with its concurrency key is running.</summary>
    public TimeSpan BusyRetryDelay { get; set; } = TimeSpan.FromSeconds(1);
    /// <summary>How often due retries move from the delayed set to the stream.</summary>
    public TimeSpan DelayedPollInterval { get; set; } = TimeSpan.FromMilliseconds(500);

    /// <summary>How often the recovery sweep compares Postgres with Redis.</summary>
    public TimeSpan SweepInterval { get; set; } = TimeSpan.FromSeconds(30);
    /// <summary>A queued job dispatched longer ago than this is sent again by the sweep (duplicates are harmless).</summary>
    public TimeSpan RedispatchAfter { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>Jobs one worker process runs at the same time.</summary>
    public int MaxConcurrentJobs { get; set; } = 4;

    /// <summary>Registers the <c>diagnostic.*</c> job kinds (sleep, fail) used by the tests; never on in production.</summary>
    public bool DiagnosticKinds { get; set; }
}

internal sealed class JobQueueOptionsValidator : IValidateOptions<JobQueueOptions>
{
    public ValidateOptionsResult Validate(string? name, JobQueueOptions options)
    {
        var failures = new List<string>();
        void Require(bool condition, string message)
        {
            if (!condition)
            {
                failures.Add(message);
            }
        }

        Require(!string.IsNullOrWhiteSpace(options.StreamName), "Jobs:StreamName is required.");
        Require(!string.IsNullOrWhiteSpace(options.GroupName), "Jobs:GroupName is required.");
        Require(!string.IsNullOrWhiteSpace(options.DelayedSetName), "Jobs:DelayedSetName is required.");
        Require(options.BlockTime >= TimeSpan.FromMilliseconds(10) && options.BlockTime <= TimeSpan.FromMinutes(1), "Jobs:BlockTime must be between 10 ms and 1 minute.");
        Require(options.ClaimIdleTimeout > options.BlockTime, "Jobs:ClaimIdleTimeout must be longer than Jobs:BlockTime.");
        // The heartbeat renews the lease every third of it; anything shorter than a second would be mostly heartbeat.
        Require(options.LeaseDuration >= TimeSpan.FromSeconds(1), "Jobs:LeaseDuration must be at least 1 second.");
        Require(options.MaxAttempts is >= 1 and <= 100, "Jobs:MaxAttempts must be between 1 and 100.");
        Require(options.BackoffBase > TimeSpan.Zero, "Jobs:BackoffBase must be positive.");
        Require(options.BackoffMax >= options.BackoffBase, "Jobs:BackoffMax must be at least Jobs:BackoffBase.");
        Require(options.BusyRetryDelay > TimeSpan.Zero, "Jobs:BusyRetryDelay must be positive.");
        Require(options.DelayedPollInterval > TimeSpan.Zero, "Jobs:DelayedPollInterval must be positive.");
        Require(options.SweepInterval > TimeSpan.Zero, "Jobs:SweepInterval must be positive.");
        Require(options.RedispatchAfter > TimeSpan.Zero, "Jobs:RedispatchAfter must be positive.");
        Require(options.MaxConcurrentJobs is >= 1 and <= 64, "Jobs:MaxConcurrentJobs must be between 1 and 64.");
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
