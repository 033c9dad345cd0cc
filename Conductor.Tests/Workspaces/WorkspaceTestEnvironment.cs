using System.Collections.Concurrent;
using System.Text;
using Conductor.Data;
using Conductor.Jobs;
using Conductor.Tests.Infrastructure;
using Conductor.Tests.Jobs;
using Conductor.Workspaces;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;
using StackExchange.Redis;

namespace Conductor.Tests.Workspaces;

/// <summary>
/// One test's world: its own database and job stream names (from <see cref="JobTestEnvironment"/>), a workspace
/// root, a git HTTP server with basic auth serving bare remotes, an in-process host wired like the Api's
/// workspace side, and real GitWorker processes on demand.
/// </summary>
internal sealed class WorkspaceTestEnvironment : IAsyncDisposable
{
    private readonly List<ServiceInstance> _workers = [];
    private IHost? _host;

    private WorkspaceTestEnvironment(JobTestEnvironment jobs, string directory, GitTestServer server)
    {
        Jobs = jobs;
        Directory = directory;
        Server = server;
        Root = Path.Combine(directory, "workspaces");
        System.IO.Directory.CreateDirectory(Root);
        jobs.Overrides["Workspaces:Root"] = Root;
        jobs.Overrides["Workspaces:AllowHttp"] = "true";
        jobs.Overrides["Workspaces:AllowFile"] = "true";
        // No background sweep of the search index during a test: an edit behind the Api's back stays unseen.
        jobs.Overrides["Workspaces:SearchIndexMaxStaleness"] = "01:00:00";
        jobs.Overrides["Workspaces:AllowPrivateNetworks"] = "true";
        jobs.Overrides["Workspaces:StoreGracePeriod"] = "00:00:00";
        jobs.Overrides["Workspaces:StoreSweepInterval"] = "00:00:00.500";
        jobs.Overrides["Logging:LogLevel:Conductor"] = "Debug";
    }

    public JobTestEnvironment Jobs { get; }
    public string Directory { get; }
    public string Root { get; }
    public GitTestServer Server { get; }
    public string Token => Server.Token;
    public IServiceProvider Services => _host?.Services ?? throw new InvalidOperationException("Call StartHostAsync first.");
    public WorkspaceCommands Commands => Services.GetRequiredService<WorkspaceCommands>();
    public WorkspaceRepository Repository => Services.GetRequiredService<WorkspaceRepository>();
    public IJobQueue Queue => Services.GetRequiredService<IJobQueue>();
    public IReadOnlyList<ServiceInstance> Workers => _workers;

    public static async Task<WorkspaceTestEnvironment> CreateAsync(PostgresServerFixture postgres, RedisServerFixture redis)
    {
        var jobs = await JobTestEnvironment.CreateAsync(postgres, redis);
        var directory = TestDirectories.Create("workspaces");
        var projectRoot = Path.Combine(directory, "remotes");
        System.IO.Directory.CreateDirectory(projectRoot);
        var server = await GitTestServer.StartAsync(projectRoot, "tok_" + Guid.NewGuid().ToString("N"));
        return new WorkspaceTestEnvironment(jobs, directory, server);
    }

    /// <summary>The Api's side of workspaces, in process (the HTTP layer is tested through the real Api).</summary>
    public async Task StartHostAsync()
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Logging.ClearProviders();
        builder.Logging.AddProvider(new ConsoleLogProvider(Jobs.Log, "api-side"));
        builder.Configuration.AddInMemoryCollection(Jobs.Configuration());
        builder.AddConductorDatabase();
        builder.AddConductorMigrations();
        builder.AddRedisClient("redis");
        builder.AddConductorJobQueue();
        builder.AddConductorWorkspaces();
        _host = builder.Build();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await _host.StartAsync(timeout.Token);
    }

    public async Task<ServiceInstance> StartWorkerAsync()
    {
        var worker = ServiceInstance.Start("Conductor.GitWorker", Jobs.ProcessEnvironment());
        _workers.Add(worker);
        await worker.WaitUntilListeningAsync(TimeSpan.FromSeconds(60));
        return worker;
    }

    /// <summary>A room as the rooms feature stores it (with its host user): workspaces reference rooms.</summary>
    public async Task<Guid> CreateRoomAsync()
    {
        var userId = Guid.NewGuid();
        var roomId = Guid.NewGuid();
        await using var connection = new NpgsqlConnection(Jobs.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(
            "INSERT INTO users (id, login, created_at, updated_at) VALUES (@user, @login, now(), now()); " +
            "INSERT INTO rooms (id, name, host_user_id, created_at) VALUES (@room, 'workspace test', @user, now());", connection);
        command.Parameters.AddWithValue("user", userId);
        command.Parameters.AddWithValue("login", "user-" + userId.ToString("N")[..12]);
        command.Parameters.AddWithValue("room", roomId);
        await command.ExecuteNonQueryAsync();
        return roomId;
    }

    public string CreateRemote(string name, int bulkBytes = 0) => TestGit.CreateRemote(Server.ProjectRoot, name, bulkBytes);

    public async Task<JobRecord> WaitForJobAsync(Guid jobId, TimeSpan timeout) =>
        await Jobs.WaitForAsync(Queue, jobId, j => j.Status.IsFinal(), timeout);

    public string Diagnostics => string.Join('\n', Jobs.Log.TakeLast(40)) + "\n--- workers ---\n" + string.Join("\n---\n", _workers.Select(w => Tail(w.Output)));

    private static string Tail(string text) => text.Length > 6000 ? text[^6000..] : text;

    /// <summary>Every row of the given tables as JSON text, to grep for secrets.</summary>
    public async Task<string> DumpTablesAsync(params string[] tables)
    {
        var text = new StringBuilder();
        await using var connection = new NpgsqlConnection(Jobs.ConnectionString);
        await connection.OpenAsync();
        foreach (var table in tables)
        {
            await using var command = new NpgsqlCommand($"SELECT coalesce(string_agg(row_to_json(t)::text, E'\\n'), '') FROM {table} t", connection);
            text.AppendLine((string)(await command.ExecuteScalarAsync())!);
        }
        return text.ToString();
    }

    /// <summary>Every row of every table of the test's database, as JSON lines (for secrets that must not be there).</summary>
    public async Task<string> DumpAllTablesAsync()
    {
        var tables = new List<string>();
        await using (var connection = new NpgsqlConnection(Jobs.ConnectionString))
        {
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand(
                "SELECT quote_ident(table_schema) || '.' || quote_ident(table_name) FROM information_schema.tables WHERE table_schema NOT IN ('pg_catalog', 'information_schema') AND table_type = 'BASE TABLE'",
                connection);
            await using var reader = await command.ExecuteReaderAsync();
            while (await reader.ReadAsync())
            {
                tables.Add(reader.GetString(0));
            }
        }
        Assert.NotEmpty(tables);
        return await DumpTablesAsync([.. tables]);
    }

    /// <summary>Every key under the test's prefix and every value in them (streams, sets, strings, hashes).</summary>
    public async Task<string> DumpRedisAsync()
    {
        var redis = Services.GetRequiredService<IConnectionMultiplexer>().GetDatabase();
        var text = new StringBuilder();
        var keys = await redis.ExecuteAsync("KEYS", "*");
        foreach (var key in (string[])keys!)
        {
            text.AppendLine(key);
            var type = (string?)await redis.ExecuteAsync("TYPE", key);
            var value = type switch
            {
                "string" => await redis.ExecuteAsync("GET", key),
                "stream" => await redis.ExecuteAsync("XRANGE", key, "-", "+"),
                "zset" => await redis.ExecuteAsync("ZRANGE", key, "0", "-1"),
                "hash" => await redis.ExecuteAsync("HGETALL", key),
                "list" => await redis.ExecuteAsync("LRANGE", key, "0", "-1"),
                "set" => await redis.ExecuteAsync("SMEMBERS", key),
                _ => null,
            };
            text.AppendLine(value is null ? "" : Flatten(value));
        }
        return text.ToString();
    }

    private static string Flatten(RedisResult result) =>
        result.Resp2Type == ResultType.Array ? string.Join(' ', ((RedisResult[])result!).Select(Flatten)) : result.IsNull ? "" : result.ToString();

    public async ValueTask DisposeAsync()
    {
        foreach (var worker in _workers)
        {
            await worker.DisposeAsync();
        }
        if (_host is not null)
        {
            await _host.StopAsync();
            _host.Dispose();
        }
        await Server.DisposeAsync();
        TestDirectories.TryDelete(Directory);
    }
}

/// <summary>
/// Samples every process's argv and environment while it runs, for the "token never in a process listing"
/// assertion (a same-user ps/proc reader is exactly what this is). It also counts the samples in which it saw the
/// processes that could leak: git processes (the test remotes' git-http-backend / upload-pack / receive-pack), the
/// GitWorker itself (libgit2 runs in it, so the token lives in its memory, never its argv or environment) and the
/// <c>ssh</c> libgit2 starts for SSH remotes, so a test can prove the watcher looked while the work happened.
/// </summary>
internal sealed class ProcessListingWatcher : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private readonly byte[] _secret;

    public ProcessListingWatcher(string secret)
    {
        _secret = Encoding.UTF8.GetBytes(secret);
        _loop = Task.Run(LoopAsync);
    }

    public ConcurrentBag<string> Leaks { get; } = [];
    public int GitProcessesSeen;
    public int GitWorkerSamples;
    public int SshProcessesSeen;

    /// <summary>The argv of every ssh client seen (for what libgit2 put on the command line).</summary>
    public ConcurrentBag<string> SshCommandLines { get; } = [];

    private async Task LoopAsync()
    {
        var self = Environment.ProcessId;
        while (!_stop.IsCancellationRequested)
        {
            foreach (var directory in System.IO.Directory.EnumerateDirectories("/proc"))
            {
                if (!int.TryParse(Path.GetFileName(directory), out var pid) || pid == self)
                {
                    continue;
                }
                try
                {
                    var argv = File.ReadAllBytes(Path.Combine(directory, "cmdline"));
                    if (argv.AsSpan().IndexOf("git"u8) >= 0)
                    {
                        Interlocked.Increment(ref GitProcessesSeen);
                    }
                    if (argv.AsSpan().IndexOf("Conductor.GitWorker"u8) >= 0)
                    {
                        Interlocked.Increment(ref GitWorkerSamples);
                    }
                    if (argv.AsSpan().StartsWith("ssh\0"u8) || argv.AsSpan().IndexOf("/ssh\0"u8) >= 0 && argv.AsSpan().IndexOf("sshd"u8) < 0)
                    {
                        Interlocked.Increment(ref SshProcessesSeen);
                        SshCommandLines.Add(Encoding.UTF8.GetString(argv).Replace('\0', ' '));
                    }
                    if (argv.AsSpan().IndexOf(_secret) >= 0)
                    {
                        Leaks.Add($"argv of {pid}: {Encoding.UTF8.GetString(argv).Replace('\0', ' ')}");
                    }
                    var environ = File.ReadAllBytes(Path.Combine(directory, "environ"));
                    if (environ.AsSpan().IndexOf(_secret) >= 0)
                    {
                        Leaks.Add($"environment of {pid} ({Encoding.UTF8.GetString(argv).Replace('\0', ' ')})");
                    }
                }
                catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
                {
                    // The process ended between the listing and the read.
                }
            }
            await Task.Delay(5);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!_stop.IsCancellationRequested)
        {
            await _stop.CancelAsync();
        }
        await _loop;
    }
}
