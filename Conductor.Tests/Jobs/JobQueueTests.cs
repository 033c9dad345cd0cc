using System.Collections.Concurrent;
using System.Text.Json;
using Conductor.Jobs;
using Conductor.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using StackExchange.Redis;

namespace Conductor.Tests.Jobs;

[Collection(InfrastructureCollection.Name)]
public sealed class JobQueueTests(PostgresServerFixture postgres, RedisServerFixture redis)
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task An_enqueued_job_runs_once_succeeds_is_acked_and_its_events_reach_the_room()
    {
        var environment = await JobTestEnvironment.CreateAsync(postgres, redis);
        var recorder = new RecordingHandler("test.record");
        await using var worker = await JobTestHost.StartAsync(environment, worker: true, s => s.AddSingleton<IJobHandler>(recorder));
        var roomId = Guid.NewGuid();
        await using var events = await RoomEvents.SubscribeAsync(worker.Services, roomId);

        var job = await worker.Queue.EnqueueAsync(roomId, "test.record", new { repository = "https://example.invalid/repo.git" }, concurrencyKey: $"workspace:{roomId}", CancellationToken.None);
        var done = await environment.WaitForAsync(worker.Queue, job.Id, j => j.Status.IsFinal(), Wait);

        Assert.Equal(JobStatus.Succeeded, done.Status);
        Assert.Equal(1, done.Attempts);
        Assert.Equal([job.Id], recorder.Runs);
        Assert.Equal("ok", done.Result!.Value.GetProperty("outcome").GetString());
        Assert.Equal("https://example.invalid/repo.git", done.Payload.GetProperty("repository").GetString());
        Assert.NotNull(done.FinishedAt);
        Assert.Equal(TimeSpan.Zero, done.CreatedAt.Offset);

        // Acked only after the outcome was stored: nothing pending in the group.
        await WaitUntilAsync(async () => (await worker.Redis.GetDatabase().StreamPendingAsync(environment.StreamName, environment.GroupName)).PendingMessageCount == 0, Wait);

        await events.WaitForAsync(e => e.Statuses(job.Id).Contains("succeeded"), Wait);
        Assert.Equal(["queued", "running", "running", "succeeded"], events.Statuses(job.Id));
        var progress = events.Events.Single(e => e.GetProperty("status").GetString() == "running" && e.TryGetProperty("progress", out _));
        Assert.Equal("job", progress.GetProperty("type").GetString());
        Assert.Equal("test.record", progress.GetProperty("kind").GetString());
        Assert.Equal(0.5, progress.GetProperty("progress").GetDouble());
        Assert.Equal("halfway", progress.GetProperty("message").GetString());
    }

    [Fact]
    public async Task An_idle_worker_is_woken_by_the_doorbell_rather_than_its_fallback_poll()
    {
        var environment = await JobTestEnvironment.CreateAsync(postgres, redis);
        // The fallback poll at its longest: a job done well within it was woken by the PUBLISH after its XADD.
        environment.Overrides["Jobs:BlockTime"] = "00:01:00";
        environment.Overrides["Jobs:ClaimIdleTimeout"] = "00:02:00";
        environment.Overrides["Jobs:SweepInterval"] = "00:05:00";
        var recorder = new RecordingHandler("test.record");
        await using var worker = await JobTestHost.StartAsync(environment, worker: true, s => s.AddSingleton<IJobHandler>(recorder));
        await using var producer = await JobTestHost.StartAsync(environment, worker: false);

        for (var i = 0; i < 3; i++)
        {
            // Each time the worker has gone back to waiting on an empty stream first.
            await Task.Delay(300);
            var job = await producer.Queue.EnqueueAsync(Guid.NewGuid(), "test.record", new { index = i }, null, CancellationToken.None);
            var done = await environment.WaitForAsync(producer.Queue, job.Id, j => j.Status.IsFinal(), TimeSpan.FromSeconds(20));
            Assert.Equal(JobStatus.Succeeded, done.Status);
        }
        Assert.Equal(3, recorder.Runs.Count);
    }

    [Fact]
    public async Task A_failing_job_is_retried_with_growing_backoff_then_dead_lettered()
    {
        var environment = await JobTestEnvironment.CreateAsync(postgres, redis);
        var failing = new RecordingHandler("test.fail", fail: true);
        await using var worker = await JobTestHost.StartAsync(environment, worker: true, s => s.AddSingleton<IJobHandler>(failing));
        var roomId = Guid.NewGuid();
        await using var events = await RoomEvents.SubscribeAsync(worker.Services, roomId);

        var job = await worker.Queue.EnqueueAsync(roomId, "test.fail", new { }, null, CancellationToken.None);
        var dead = await environment.WaitForAsync(worker.Queue, job.Id, j => j.Status.IsFinal(), Wait);

        Assert.Equal(JobStatus.Dead, dead.Status);
        Assert.Equal(3, dead.Attempts);
        Assert.Contains("boom on attempt 3", dead.Error, StringComparison.Ordinal);
        Assert.Equal(3, failing.Runs.Count);
        // BackoffBase 200 ms: about 200 ms before the second attempt, 400 ms before the third.
        var times = failing.Times.ToArray();
        var first = times[1] - times[0];
        var second = times[2] - times[1];
        Assert.True(first >= TimeSpan.FromMilliseconds(180), $"first retry after {first}");
        Assert.True(second >= TimeSpan.FromMilliseconds(380), $"second retry after {second}");
        Assert.True(second > first, $"backoff did not grow: {first} then {second}");

        await events.WaitForAsync(e => e.Statuses(job.Id).Contains("dead"), Wait);
        Assert.Equal(2, events.Statuses(job.Id).Count(s => s == "queued") - 1); // enqueue + two retries
        await WaitUntilAsync(async () => (await worker.Redis.GetDatabase().StreamPendingAsync(environment.StreamName, environment.GroupName)).PendingMessageCount == 0, Wait);
    }

    [Fact]
    public async Task A_permanent_failure_or_an_unknown_kind_fails_without_retrying()
    {
        var environment = await JobTestEnvironment.CreateAsync(postgres, redis);
        var permanent = new RecordingHandler("test.permanent", fail: true, permanent: true);
        await using var worker = await JobTestHost.StartAsync(environment, worker: true, s => s.AddSingleton<IJobHandler>(permanent));

        var failed = await worker.Queue.EnqueueAsync(Guid.NewGuid(), "test.permanent", new { }, null, CancellationToken.None);
        var unknown = await worker.Queue.EnqueueAsync(Guid.NewGuid(), "test.no-such-kind", new { }, null, CancellationToken.None);

        var failedJob = await environment.WaitForAsync(worker.Queue, failed.Id, j => j.Status.IsFinal(), Wait);
        var unknownJob = await environment.WaitForAsync(worker.Queue, unknown.Id, j => j.Status.IsFinal(), Wait);
        Assert.Equal((JobStatus.Failed, 1), (failedJob.Status, failedJob.Attempts));
        Assert.Equal((JobStatus.Failed, 1), (unknownJob.Status, unknownJob.Attempts));
        Assert.Contains("test.no-such-kind", unknownJob.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_duplicate_delivery_of_a_finished_job_is_acked_and_skipped()
    {
        var environment = await JobTestEnvironment.CreateAsync(postgres, redis);
        var recorder = new RecordingHandler("test.record");
        await using var worker = await JobTestHost.StartAsync(environment, worker: true, s => s.AddSingleton<IJobHandler>(recorder));

        var job = await worker.Queue.EnqueueAsync(Guid.NewGuid(), "test.record", new { }, null, CancellationToken.None);
        await environment.WaitForAsync(worker.Queue, job.Id, j => j.Status == JobStatus.Succeeded, Wait);
        // What the recovery sweep or a retried XADD would do.
        var database = worker.Redis.GetDatabase();
        await database.StreamAddAsync(environment.StreamName, "job_id", job.Id.ToString());
        var last = (string?)await database.StreamAddAsync(environment.StreamName, "job_id", job.Id.ToString());

        await WaitUntilAsync(async () =>
        {
            var pending = await database.StreamPendingAsync(environment.StreamName, environment.GroupName);
            return pending.PendingMessageCount == 0 && await LastDeliveredIdAsync(worker.Redis, environment) == last;
        }, Wait, environment);
        Assert.Equal([job.Id], recorder.Runs);
    }

    [Fact]
    public async Task Jobs_with_the_same_workspace_key_never_overlap_even_across_workers()
    {
        var environment = await JobTestEnvironment.CreateAsync(postgres, redis);
        var tracker = new OverlapTracker();
        await using var first = await JobTestHost.StartAsync(environment, worker: true, s => s.AddSingleton<IJobHandler>(new OverlapHandler(tracker)));
        await using var second = await JobTestHost.StartAsync(environment, worker: true, s => s.AddSingleton<IJobHandler>(new OverlapHandler(tracker)));
        var roomA = Guid.NewGuid();
        var roomB = Guid.NewGuid();

        var jobs = new List<JobRecord>();
        for (var i = 0; i < 5; i++)
        {
            jobs.Add(await first.Queue.EnqueueAsync(roomA, OverlapHandler.KindName, new { }, $"workspace:{roomA}", CancellationToken.None));
            jobs.Add(await second.Queue.EnqueueAsync(roomB, OverlapHandler.KindName, new { }, $"workspace:{roomB}", CancellationToken.None));
        }
        foreach (var job in jobs)
        {
            var done = await environment.WaitForAsync(first.Queue, job.Id, j => j.Status.IsFinal(), TimeSpan.FromSeconds(45));
            Assert.Equal(JobStatus.Succeeded, done.Status);
        }

        Assert.Equal(1, tracker.MaxConcurrent($"workspace:{roomA}"));
        Assert.Equal(1, tracker.MaxConcurrent($"workspace:{roomB}"));
        Assert.Equal(10, tracker.Completed);
        // Different workspaces are not serialised against each other.
        Assert.True(tracker.MaxConcurrentOverall >= 2, $"at most {tracker.MaxConcurrentOverall} jobs ran at once");
    }

    [Fact]
    public async Task Jobs_queued_when_redis_restarts_empty_all_still_run()
    {
        var environment = await JobTestEnvironment.CreateAsync(postgres, redis);
        var recorder = new RecordingHandler("test.record", delay: TimeSpan.FromMilliseconds(150));
        await using var worker = await JobTestHost.StartAsync(environment, worker: true, s => s.AddSingleton<IJobHandler>(recorder));
        var roomId = Guid.NewGuid();

        // One workspace key: the jobs run one after another, so most are still queued when Redis loses everything.
        var jobs = new List<JobRecord>();
        for (var i = 0; i < 8; i++)
        {
            jobs.Add(await worker.Queue.EnqueueAsync(roomId, "test.record", new { index = i }, $"workspace:{roomId}", CancellationToken.None));
        }
        await environment.WaitForAsync(worker.Queue, jobs[0].Id, j => j.Status != JobStatus.Queued, Wait);
        await redis.RestartAsync(discardData: true);
        environment.Log.Enqueue($"{JobTestEnvironment.Stamp()} [test] Redis restarted empty");

        foreach (var job in jobs)
        {
            var done = await environment.WaitForAsync(worker.Queue, job.Id, j => j.Status.IsFinal(), TimeSpan.FromSeconds(45));
            Assert.Equal(JobStatus.Succeeded, done.Status);
        }
        Assert.Equal(jobs.Select(j => j.Id).Order(), recorder.Runs.Distinct().Order());
    }

    [Fact]
    public async Task Jobs_enqueued_while_no_worker_runs_survive_redis_losing_its_data()
    {
        var environment = await JobTestEnvironment.CreateAsync(postgres, redis);
        var jobs = new List<JobRecord>();
        await using (var producer = await JobTestHost.StartAsync(environment, worker: false))
        {
            for (var i = 0; i < 4; i++)
            {
                jobs.Add(await producer.Queue.EnqueueAsync(Guid.NewGuid(), "test.record", new { index = i }, null, CancellationToken.None));
            }
            Assert.Equal(4, await producer.Redis.GetDatabase().StreamLengthAsync(environment.StreamName));
        }
        await redis.RestartAsync(discardData: true);

        var recorder = new RecordingHandler("test.record");
        await using var worker = await JobTestHost.StartAsync(environment, worker: true, s => s.AddSingleton<IJobHandler>(recorder));
        foreach (var job in jobs)
        {
            Assert.Equal(JobStatus.Succeeded, (await environment.WaitForAsync(worker.Queue, job.Id, j => j.Status.IsFinal(), Wait)).Status);
        }
        Assert.Equal(jobs.Select(j => j.Id).Order(), recorder.Runs.Order());
    }

    private static async Task<string?> LastDeliveredIdAsync(IConnectionMultiplexer client, JobTestEnvironment environment)
    {
        var groups = await client.GetDatabase().StreamGroupInfoAsync(environment.StreamName);
        return groups.Single().LastDeliveredId;
    }

    internal static async Task WaitUntilAsync(Func<Task<bool>> condition, TimeSpan timeout, JobTestEnvironment? environment = null)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException("The condition did not hold in time.\n" + string.Join('\n', environment?.Log.TakeLast(30) ?? []));
            }
            await Task.Delay(50);
        }
    }

    private sealed class RecordingHandler(string kind, bool fail = false, bool permanent = false, TimeSpan? delay = null) : IJobHandler
    {
        public ConcurrentQueue<Guid> RunsQueue { get; } = new();
        public ConcurrentQueue<DateTime> Times { get; } = new();
        public IReadOnlyList<Guid> Runs => [.. RunsQueue];
        public string Kind => kind;

        public async Task<JsonElement?> HandleAsync(JobContext context, CancellationToken cancellationToken)
        {
            RunsQueue.Enqueue(context.JobId);
            Times.Enqueue(DateTime.UtcNow);
            await context.ReportProgressAsync(0.5, "halfway", cancellationToken);
            if (delay is { } wait)
            {
                await Task.Delay(wait, cancellationToken);
            }
            if (fail)
            {
                throw permanent
                    ? new PermanentJobFailureException($"permanent boom on attempt {context.Attempt}")
                    : new InvalidOperationException($"boom on attempt {context.Attempt}");
            }
            return JsonSerializer.SerializeToElement(new { outcome = "ok" });
        }
    }

    private sealed class OverlapTracker
    {
        private readonly ConcurrentDictionary<string, int> _running = new();
        private readonly ConcurrentDictionary<string, int> _max = new();
        private int _overall;
        private int _maxOverall;
        private int _completed;

        public int Completed => _completed;
        public int MaxConcurrentOverall => _maxOverall;
        public int MaxConcurrent(string key) => _max.GetValueOrDefault(key);

        public void Enter(string key)
        {
            var now = _running.AddOrUpdate(key, 1, (_, n) => n + 1);
            _max.AddOrUpdate(key, now, (_, m) => Math.Max(m, now));
            var overall = Interlocked.Increment(ref _overall);
            int seen;
            while ((seen = _maxOverall) < overall && Interlocked.CompareExchange(ref _maxOverall, overall, seen) != seen)
            {
            }
        }

        public void Exit(string key)
        {
            _running.AddOrUpdate(key, 0, (_, n) => n - 1);
            Interlocked.Decrement(ref _overall);
            Interlocked.Increment(ref _completed);
        }
    }

    private sealed class OverlapHandler(OverlapTracker tracker) : IJobHandler
    {
        public const string KindName = "test.overlap";
        public string Kind => KindName;

        public async Task<JsonElement?> HandleAsync(JobContext context, CancellationToken cancellationToken)
        {
            var key = $"workspace:{context.RoomId}";
            tracker.Enter(key);
            try
            {
                await Task.Delay(150, cancellationToken);
            }
            finally
            {
                tracker.Exit(key);
            }
            return null;
        }
    }
}
