using System.Collections.Concurrent;
using System.Globalization;
using System.Text.Json;
using Conductor.Data;
using Conductor.Jobs;
using Conductor.Tests.Infrastructure;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;

namespace Conductor.Tests.Jobs;

/// <summary>
/// An in-process host wired like the GitWorker (or, without a worker, like the Api's producer side) against the
/// real Postgres and Redis fixtures. Each test gets its own database and its own stream/group/delayed-set names,
/// so tests sharing the Redis server do not see each other's jobs.
/// </summary>
internal sealed class JobTestHost : IAsyncDisposable
{
    private readonly IHost _host;

    private JobTestHost(IHost host) => _host = host;

    public IServiceProvider Services => _host.Services;
    public IJobQueue Queue => Services.GetRequiredService<IJobQueue>();
    public IConnectionMultiplexer Redis => Services.GetRequiredService<IConnectionMultiplexer>();

    public static async Task<JobTestHost> StartAsync(JobTestEnvironment environment, bool worker, Action<IServiceCollection>? handlers = null)
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Logging.ClearProviders();
        builder.Logging.AddProvider(new ConsoleLogProvider(environment.Log, worker ? "worker" : "producer"));
        builder.Configuration.AddInMemoryCollection(environment.Configuration());
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(5));
        builder.AddConductorDatabase();
        builder.AddConductorMigrations();
        builder.AddRedisClient("redis");
        if (worker)
        {
            builder.AddConductorJobWorker();
            handlers?.Invoke(builder.Services);
        }
        else
        {
            builder.AddConductorJobQueue();
        }
        var host = builder.Build();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await host.StartAsync(timeout.Token);
        return new JobTestHost(host);
    }

    public async ValueTask DisposeAsync()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        try
        {
            await _host.StopAsync(timeout.Token);
        }
        finally
        {
            if (_host is IAsyncDisposable asyncDisposable)
            {
                await asyncDisposable.DisposeAsync();
            }
            else
            {
                _host.Dispose();
            }
        }
    }
}

/// <summary>One test's database, stream names and option overrides.</summary>
internal sealed class JobTestEnvironment(string connectionString, RedisServerFixture redis)
{
    public string ConnectionString { get; } = connectionString;
    public string Prefix { get; } = $"test:{Guid.NewGuid():N}";
    public string StreamName => $"{Prefix}:jobs";
    public string GroupName => "gitworkers";
    public ConcurrentQueue<string> Log { get; } = new();
    public Dictionary<string, string?> Overrides { get; } = new();

    public static async Task<JobTestEnvironment> CreateAsync(PostgresServerFixture postgres, RedisServerFixture redis) =>
        new(await postgres.CreateDatabaseAsync("jobs"), redis);

    public Dictionary<string, string?> Configuration()
    {
        var configuration = new Dictionary<string, string?>
        {
            ["ConnectionStrings:conductordb"] = ConnectionString,
            ["ConnectionStrings:redis"] = redis.ConnectionString,
            ["Jobs:StreamName"] = StreamName,
            ["Jobs:GroupName"] = GroupName,
            ["Jobs:DelayedSetName"] = $"{Prefix}:delayed",
            ["Jobs:BlockTime"] = "00:00:00.200",
            ["Jobs:ClaimIdleTimeout"] = "00:00:02",
            ["Jobs:LeaseDuration"] = "00:00:03",
            ["Jobs:BackoffBase"] = "00:00:00.200",
            ["Jobs:BackoffMax"] = "00:00:05",
            ["Jobs:BusyRetryDelay"] = "00:00:00.100",
            ["Jobs:DelayedPollInterval"] = "00:00:00.050",
            ["Jobs:SweepInterval"] = "00:00:01",
            ["Jobs:RedispatchAfter"] = "00:00:10",
            ["Jobs:MaxAttempts"] = "3",
        };
        foreach (var (key, value) in Overrides)
        {
            configuration[key] = value;
        }
        return configuration;
    }

    /// <summary>The same settings as environment variables, for a real GitWorker process.</summary>
    public Dictionary<string, string?> ProcessEnvironment() =>
        Configuration().ToDictionary(pair => pair.Key.Replace(":", "__", StringComparison.Ordinal), pair => pair.Value);

    public async Task<JobRecord> WaitForAsync(IJobQueue queue, Guid jobId, Func<JobRecord, bool> condition, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        JobRecord? job = null;
        while (DateTime.UtcNow < deadline)
        {
            job = await queue.GetAsync(jobId, CancellationToken.None);
            if (job is not null && condition(job))
            {
                return job;
            }
            await Task.Delay(50);
        }
        throw new TimeoutException($"Job {jobId} did not reach the expected state within {timeout}; last seen: {Describe(job)}\n{string.Join('\n', Log.TakeLast(40))}");
    }

    public static string Describe(JobRecord? job) =>
        job is null ? "(missing)" : $"{job.Status.ToName()} attempts={job.Attempts} error={job.Error} locked_by={job.LockedBy}";

    public static JsonElement Json(object value) => JsonSerializer.SerializeToElement(value);

    public static string Stamp() => DateTime.UtcNow.ToString("HH:mm:ss.fff", CultureInfo.InvariantCulture);
}

/// <summary>Collects the hosts' log lines so a failing test can show what the worker did.</summary>
internal sealed class ConsoleLogProvider(ConcurrentQueue<string> sink, string name) : ILoggerProvider
{
    public ILogger CreateLogger(string categoryName) => new Logger(sink, name, categoryName);

    public void Dispose()
    {
    }

    private sealed class Logger(ConcurrentQueue<string> sink, string name, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Information && category.StartsWith("Conductor", StringComparison.Ordinal);

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (IsEnabled(logLevel))
            {
                sink.Enqueue($"{JobTestEnvironment.Stamp()} [{name}] {logLevel}: {formatter(state, exception)}{(exception is null ? "" : " | " + exception.Message)}");
            }
        }
    }
}

/// <summary>Collects the events published on one room's channel.</summary>
internal sealed class RoomEvents : IAsyncDisposable
{
    private readonly ChannelMessageQueue _subscription;

    private RoomEvents(ChannelMessageQueue subscription, ConcurrentQueue<JsonElement> events)
    {
        _subscription = subscription;
        Events = events;
    }

    public ConcurrentQueue<JsonElement> Events { get; }

    public static async Task<RoomEvents> SubscribeAsync(IServiceProvider services, Guid roomId)
    {
        var events = new ConcurrentQueue<JsonElement>();
        var subscriber = services.GetRequiredService<IConnectionMultiplexer>().GetSubscriber();
        // A queue, so the events are collected in the order Redis sent them.
        var subscription = await subscriber.SubscribeAsync(RedisChannel.Literal(JobEvent.ChannelFor(roomId)));
        subscription.OnMessage(message =>
        {
            using var document = JsonDocument.Parse((string)message.Message!);
            events.Enqueue(document.RootElement.Clone());
        });
        return new RoomEvents(subscription, events);
    }

    public IEnumerable<string> Statuses(Guid jobId) =>
        Events.Where(e => e.GetProperty("job_id").GetGuid() == jobId).Select(e => e.GetProperty("status").GetString()!);

    public async Task WaitForAsync(Func<RoomEvents, bool> condition, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!condition(this))
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"Expected events did not arrive; got: {string.Join(", ", Events.Select(e => e.GetRawText()))}");
            }
            await Task.Delay(50);
        }
    }

    public async ValueTask DisposeAsync() => await _subscription.UnsubscribeAsync();
}
