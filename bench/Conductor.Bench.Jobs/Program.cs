using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Conductor.Data;
using Conductor.Jobs;
using Conductor.LocalServers;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;

// The job queue (Conductor.Jobs: Postgres row + Redis stream entry, consumed by the GitWorker's JobWorker) against
// the bare Redis mechanisms it rides on, on the same private servers in the same run:
//   pickup latency: enqueue → handler start, one job at a time on an idle worker, against a PUBLISH → subscriber
//                   round trip (the floor for anything woken through Redis);
//   throughput:     N jobs enqueued by 8 producers, run by one worker (4 concurrent jobs, the default), against the
//                   same N entries through a bare stream + consumer group (XADD, XREADGROUP, XACK; 4 consumers).
// Usage: dotnet run -c Release --project bench/Conductor.Bench.Jobs [pickups=200] [jobs=2000]
// Talks only to 127.0.0.1; everything started here is stopped at the end; the whole run is bounded to 3 minutes.

var pickups = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 200;
var jobCount = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 2000;
const int Producers = 8;
const int Consumers = 4;
using var runTimeout = new CancellationTokenSource(TimeSpan.FromMinutes(3));
var token = runTimeout.Token;

ThrowawayServers? servers = null;
IHost? host = null;
ConnectionMultiplexer? bare = null;
try
{
    servers = await ThrowawayServers.StartAsync("bench-jobs", token);
    var (postgres, redis) = (servers.Postgres, servers.Redis);

    var probe = new BenchHandler();
    host = BuildWorker(postgres.ConnectionStringFor("conductordb"), redis.ConnectionString, probe);
    await host.StartAsync(token);
    var queue = host.Services.GetRequiredService<IJobQueue>();
    bare = await ConnectionMultiplexer.ConnectAsync(redis.ConnectionString);

    Console.WriteLine($"Job queue vs bare Redis: {pickups} pickups one at a time, {jobCount:N0} jobs for throughput ({Producers} producers, {Consumers} concurrent jobs); Postgres {postgres.Port}, Redis {redis.Port}");

    // Warm-up of both paths so the JIT is not what we measure.
    await PickupsAsync(queue, probe, 30, token);
    await PublishRoundTripsAsync(bare, 30, token);
    await JobThroughputAsync(queue, probe, 200, token);
    await StreamThroughputAsync(bare, 200, token);

    // Interleaved halves, so a burst of load from elsewhere on the machine hits both sides.
    var jobPickups = new List<double>();
    var publishTrips = new List<double>();
    for (var half = 0; half < 2; half++)
    {
        publishTrips.AddRange(await PublishRoundTripsAsync(bare, pickups / 2, token));
        jobPickups.AddRange(await PickupsAsync(queue, probe, pickups / 2, token));
    }
    var streamRate = await StreamThroughputAsync(bare, jobCount, token);
    var jobRate = await JobThroughputAsync(queue, probe, jobCount, token);

    Console.WriteLine();
    Console.WriteLine($"{"pickup latency (ms)",-44} {"p50",8} {"p99",8} {"max",8}");
    Console.WriteLine($"{"reference: PUBLISH → subscriber",-44} {Percentile(publishTrips, 0.50),8:F2} {Percentile(publishTrips, 0.99),8:F2} {publishTrips.Max(),8:F2}");
    Console.WriteLine($"{"jobs: enqueue → handler start",-44} {Percentile(jobPickups, 0.50),8:F2} {Percentile(jobPickups, 0.99),8:F2} {jobPickups.Max(),8:F2}");
    Console.WriteLine($"{"ratio jobs/reference",-44} {Percentile(jobPickups, 0.50) / Percentile(publishTrips, 0.50),8:F1} {Percentile(jobPickups, 0.99) / Percentile(publishTrips, 0.99),8:F1}");
    Console.WriteLine();
    Console.WriteLine($"{"throughput",-44} {"per s",8}");
    Console.WriteLine($"{"reference: XADD → XREADGROUP → XACK",-44} {streamRate,8:N0}");
    Console.WriteLine($"{"jobs: enqueue → run → succeeded",-44} {jobRate,8:N0}");
    Console.WriteLine($"{"ratio jobs/reference",-44} {jobRate / streamRate,8:P1}");
    return 0;
}
finally
{
    if (host is not null)
    {
        using var stopTimeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        await host.StopAsync(stopTimeout.Token);
        host.Dispose();
    }
    bare?.Dispose();
    if (servers is not null)
    {
        Npgsql.NpgsqlConnection.ClearAllPools();
        await servers.DisposeAsync();
    }
}

// Wired as the GitWorker wires itself (database, migrations, Redis, job worker), with the bench's handler.
static IHost BuildWorker(string postgres, string redis, BenchHandler handler)
{
    var builder = Host.CreateApplicationBuilder();
    builder.Logging.ClearProviders();
    builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
    {
        ["ConnectionStrings:conductordb"] = postgres,
        ["ConnectionStrings:redis"] = redis,
    });
    builder.AddConductorDatabase();
    builder.AddConductorMigrations();
    builder.AddRedisClient("redis");
    builder.AddConductorJobWorker();
    builder.Services.AddSingleton<IJobHandler>(handler);
    return builder.Build();
}

// One job at a time: enqueue (the clock starts before the Postgres insert), wait until its handler started and the
// job is stored as succeeded, so the worker is idle again before the next one.
static async Task<List<double>> PickupsAsync(IJobQueue queue, BenchHandler handler, int count, CancellationToken cancellationToken)
{
    var latencies = new List<double>(count);
    var room = Guid.NewGuid();
    for (var i = 0; i < count; i++)
    {
        var started = handler.Expect(1);
        var job = await queue.EnqueueAsync(room, BenchHandler.KindName, new { enqueued = Stopwatch.GetTimestamp() }, null, cancellationToken);
        latencies.Add(await started.WaitAsync(TimeSpan.FromSeconds(30), cancellationToken));
        await WaitFinishedAsync(queue, job.Id, cancellationToken);
    }
    return latencies;
}

static async Task<double> JobThroughputAsync(IJobQueue queue, BenchHandler handler, int count, CancellationToken cancellationToken)
{
    var room = Guid.NewGuid();
    var allStarted = handler.Expect(count);
    var ids = new ConcurrentBag<Guid>();
    var clock = Stopwatch.StartNew();
    var remaining = count;
    await Task.WhenAll(Enumerable.Range(0, Producers).Select(_ => Task.Run(async () =>
    {
        while (Interlocked.Decrement(ref remaining) >= 0)
        {
            var job = await queue.EnqueueAsync(room, BenchHandler.KindName, new { enqueued = Stopwatch.GetTimestamp() }, null, cancellationToken);
            ids.Add(job.Id);
        }
    }, cancellationToken)));
    await allStarted.WaitAsync(TimeSpan.FromSeconds(120), cancellationToken);
    // Done means stored as succeeded (the handler returning is not the end of a job).
    foreach (var id in ids)
    {
        await WaitFinishedAsync(queue, id, cancellationToken);
    }
    return count / clock.Elapsed.TotalSeconds;
}

static async Task WaitFinishedAsync(IJobQueue queue, Guid id, CancellationToken cancellationToken)
{
    while (true)
    {
        var job = await queue.GetAsync(id, cancellationToken) ?? throw new InvalidOperationException($"Job {id} vanished.");
        if (job.Status == JobStatus.Succeeded)
        {
            return;
        }
        if (job.Status.IsFinal())
        {
            throw new InvalidOperationException($"Job {id} ended {job.Status.ToName()}: {job.Error}");
        }
        await Task.Delay(1, cancellationToken);
    }
}

static async Task<List<double>> PublishRoundTripsAsync(ConnectionMultiplexer redis, int count, CancellationToken cancellationToken)
{
    var channel = RedisChannel.Literal($"bench:ping:{Guid.NewGuid():N}");
    var latencies = new List<double>(count);
    TaskCompletionSource<double>? pending = null;
    var subscriber = redis.GetSubscriber();
    await subscriber.SubscribeAsync(channel, (_, message) =>
        pending?.TrySetResult(Stopwatch.GetElapsedTime(long.Parse((string)message!, CultureInfo.InvariantCulture)).TotalMilliseconds));
    for (var i = 0; i < count; i++)
    {
        pending = new TaskCompletionSource<double>(TaskCreationOptions.RunContinuationsAsynchronously);
        await subscriber.PublishAsync(channel, Stopwatch.GetTimestamp().ToString(CultureInfo.InvariantCulture));
        latencies.Add(await pending.Task.WaitAsync(TimeSpan.FromSeconds(10), cancellationToken));
    }
    await subscriber.UnsubscribeAsync(channel);
    return latencies;
}

// The same shape of work without Postgres or the worker's bookkeeping: producers XADD, consumers XREADGROUP one entry
// (non-blocking; a consumer that finds nothing yields for 1 ms) and XACK it.
static async Task<double> StreamThroughputAsync(ConnectionMultiplexer redis, int count, CancellationToken cancellationToken)
{
    var db = redis.GetDatabase();
    var stream = new RedisKey($"bench:stream:{Guid.NewGuid():N}");
    await db.StreamCreateConsumerGroupAsync(stream, "g", "0-0", createStream: true);
    var acked = 0;
    var remaining = count;
    var clock = Stopwatch.StartNew();
    var producers = Enumerable.Range(0, Producers).Select(_ => Task.Run(async () =>
    {
        while (Interlocked.Decrement(ref remaining) >= 0)
        {
            await db.StreamAddAsync(stream, "job_id", Guid.NewGuid().ToString("D"));
        }
    }, cancellationToken));
    var consumers = Enumerable.Range(0, Consumers).Select(c => Task.Run(async () =>
    {
        while (Volatile.Read(ref acked) < count)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var entries = await db.StreamReadGroupAsync(stream, "g", $"c{c}", ">", 1);
            if (entries.Length == 0)
            {
                await Task.Delay(1, cancellationToken);
                continue;
            }
            await db.StreamAcknowledgeAsync(stream, "g", entries[0].Id);
            Interlocked.Increment(ref acked);
        }
    }, cancellationToken));
    await Task.WhenAll(producers.Concat(consumers));
    var rate = count / clock.Elapsed.TotalSeconds;
    await db.KeyDeleteAsync(stream);
    return rate;
}

static double Percentile(List<double> values, double p)
{
    var sorted = values.Order().ToList();
    return sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Count) - 1, 0, sorted.Count - 1)];
}

/// <summary>Does nothing but note when it started, measured from the enqueue timestamp carried in the payload.</summary>
internal sealed class BenchHandler : IJobHandler
{
    public const string KindName = "bench.noop";
    private TaskCompletionSource<double>? _waiter;
    private int _outstanding;

    public string Kind => KindName;

    /// <summary>Completes (with the pickup latency of the last one, ms) once <paramref name="count"/> handlers started.</summary>
    public Task<double> Expect(int count)
    {
        var waiter = new TaskCompletionSource<double>(TaskCreationOptions.RunContinuationsAsynchronously);
        Volatile.Write(ref _outstanding, count);
        _waiter = waiter;
        return waiter.Task;
    }

    public Task<JsonElement?> HandleAsync(JobContext context, CancellationToken cancellationToken)
    {
        var latency = Stopwatch.GetElapsedTime(context.Payload.GetProperty("enqueued").GetInt64()).TotalMilliseconds;
        if (Interlocked.Decrement(ref _outstanding) == 0)
        {
            _waiter?.TrySetResult(latency);
        }
        return Task.FromResult<JsonElement?>(null);
    }
}
