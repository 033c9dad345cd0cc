using System.Diagnostics;
using System.Globalization;
using Conductor.LocalServers;
using Npgsql;

// Chat through real Api processes (their own Postgres and Redis, started here) against a bare in-memory echo endpoint
// (a separate process too) under the same clients and load, in one run:
//  1. closed loop: N clients in one room, each sending M messages, the next once its previous came back;
//  2. open loop: rooms × room size clients plus one big room, each client sending every few seconds at a fixed rate,
//     spread over one or more Api instances.
// Prints connections, messages/s, deliveries/s, p50/p99/max delivery latency, lost deliveries, the servers' CPU
// (% of one core) and peak memory, and the CPU Postgres and Redis spent meanwhile. Stops by itself (bounded to 15 minutes) and stops everything it started.
// Usage: dotnet run -c Release --project bench/Conductor.Bench.Chat [-- options]; bench/README.md lists them.

if (args is ["--bare-server", var bareUrl])
{
    await BareEcho.RunAsync(bareUrl);
    return 0;
}

var options = BenchOptions.Parse(args);
using var runTimeout = new CancellationTokenSource(TimeSpan.FromMinutes(15));
var token = runTimeout.Token;
var apiDll = options.ApiDll ?? BesideTheBench("Conductor.Api");
var benchDll = typeof(BenchOptions).Assembly.Location;

ThrowawayServers? servers = null;
var apis = new List<ServerProcess>();
ServerProcess? bare = null;
try
{
    // Durable, as the AppHost runs them: every batch's commit waits for its WAL flush, as in the product.
    servers = await ThrowawayServers.StartAsync("bench-chat", durable: !options.NoFsync, token);
    for (var i = 0; i < options.Instances; i++)
    {
        var url = new Uri($"http://127.0.0.1:{FreePort.Next()}");
        var api = ServerProcess.Start($"api{i}", apiDll, [], ApiEnvironment(url, servers), url);
        apis.Add(api);
        // One at a time: the first applies the migrations.
        await api.WaitUntilAliveAsync("/alive", token);
    }
    var bareServerUrl = new Uri($"http://127.0.0.1:{FreePort.Next()}");
    bare = ServerProcess.Start("bare", benchDll, ["--bare-server", bareServerUrl.ToString()], new Dictionary<string, string>(), bareServerUrl);
    await bare.WaitUntilAliveAsync("/alive", token);

    var (roundTrip, commit) = await PostgresCostAsync(servers.DatabaseConnectionString, token);
    Console.WriteLine($"Postgres on this disk: a round trip (SELECT 1) p50 {roundTrip:F2} ms; a one-row INSERT committed on its own " +
        $"(waits for its WAL flush) p50 {commit:F2} ms");

    var backendPids = new[] { servers.Postgres.ProcessId, servers.Redis.ProcessId }.OfType<int>().ToArray();
    var backendCpu = () => ProcessTreeCpu.Read(backendPids);
    var none = () => TimeSpan.Zero;
    Console.WriteLine($"Api: {apiDll}");
    Console.WriteLine($"{Environment.ProcessorCount} cores, load average {LoadAverage()} at the start; {options.Instances} Api instance(s); " +
        $"Postgres {servers.Postgres.Port} " +
        (options.NoFsync ? "(--no-fsync: NOT as the product runs it, for diagnosis only)" : "(durable: fsync and synchronous_commit on, as the AppHost runs it)") +
        $", Redis {servers.Redis.Port}");

    if (options.Closed)
    {
        var tokens = await ApiSetup.CreateUsersAsync(apis[0].Url, options.Clients, "closed", token);
        var roomId = (await ApiSetup.CreateRoomsAsync(apis[0].Url, [tokens], token))[0];
        var apiTargets = tokens.Select((t, i) => new ClientTarget(ApiSocket(apis[i % apis.Count].Url, roomId), tokens.Length, t)).ToList();
        var bareTargets = tokens.Select(_ => new ClientTarget(BareSocket(bare.Url, "closed"), tokens.Length)).ToList();
        // Warm-up of both paths so the JIT is not what we measure: long enough for tiered compilation to have
        // recompiled the hot paths (methods called 30 times are recompiled in the background after 100 ms).
        await WarmUpAsync(() => Load.ClosedLoopAsync(bareTargets, 10, [bare], none, token));
        await WarmUpAsync(() => Load.ClosedLoopAsync(apiTargets, 10, apis, backendCpu, token));
        // Rounds alternate (bare, Api, bare, Api, ...) and the medians are compared: one round of either swings by a
        // third from run to run on this shared 2-core machine, the bare echo most (its clients are most of the load).
        var bareRounds = new List<LoadResult>();
        var apiRounds = new List<LoadResult>();
        for (var round = 0; round < options.Rounds; round++)
        {
            bareRounds.Add(await Load.ClosedLoopAsync(bareTargets, options.Messages, [bare], none, token));
            apiRounds.Add(await Load.ClosedLoopAsync(apiTargets, options.Messages, apis, backendCpu, token));
        }
        static double Rate(LoadResult result) => result.Sent / result.Elapsed.TotalSeconds;
        static LoadResult Median(List<LoadResult> rounds) => rounds.OrderBy(Rate).ElementAt(rounds.Count / 2);
        Console.WriteLine();
        Console.WriteLine($"Closed loop: {options.Clients} clients in one room x {options.Messages} messages each, {options.Rounds} alternating " +
            $"round(s) per endpoint, the median round shown (load average {LoadAverage()})");
        PrintHeader();
        Print("bare echo", Median(bareRounds));
        Print("Api /ws", Median(apiRounds));
        Console.WriteLine($"Rounds, msg/s: bare echo {string.Join(" / ", bareRounds.Select(r => Rate(r).ToString("N0", CultureInfo.InvariantCulture)))}; " +
            $"Api {string.Join(" / ", apiRounds.Select(r => Rate(r).ToString("N0", CultureInfo.InvariantCulture)))}");
        Console.WriteLine($"Api/bare messages/s (medians): {Rate(Median(apiRounds)) / Rate(Median(bareRounds)):P1}");
    }

    if (options.Open)
    {
        // Rooms of RoomSize, then the big room; clients of a room are spread over the instances.
        var roomMembers = new List<IReadOnlyList<string>>();
        var tokens = await ApiSetup.CreateUsersAsync(apis[0].Url, options.OpenClients, "open", token);
        var next = 0;
        for (var r = 0; r < options.Rooms; r++, next += options.RoomSize)
        {
            roomMembers.Add(tokens[next..(next + options.RoomSize)]);
        }
        if (options.BigRoom > 0)
        {
            roomMembers.Add(tokens[next..(next + options.BigRoom)]);
        }
        var roomIds = await ApiSetup.CreateRoomsAsync(apis[0].Url, roomMembers, token);
        var apiTargets = new List<ClientTarget>();
        var bareTargets = new List<ClientTarget>();
        for (var r = 0; r < roomMembers.Count; r++)
        {
            for (var m = 0; m < roomMembers[r].Count; m++)
            {
                apiTargets.Add(new ClientTarget(ApiSocket(apis[(r + m) % apis.Count].Url, roomIds[r]), roomMembers[r].Count, roomMembers[r][m]));
                bareTargets.Add(new ClientTarget(BareSocket(bare.Url, r.ToString(CultureInfo.InvariantCulture)), roomMembers[r].Count));
            }
        }
        var interval = TimeSpan.FromSeconds(options.Interval);
        var (warmup, duration) = (TimeSpan.FromSeconds(options.Warmup), TimeSpan.FromSeconds(options.Duration));
        var loadBefore = LoadAverage();
        var bareResult = await Load.OpenLoopAsync(bareTargets, interval, warmup, duration, [bare], none, token);
        var apiResult = await Load.OpenLoopAsync(apiTargets, interval, warmup, duration, apis, backendCpu, token);
        Console.WriteLine();
        Console.WriteLine($"Open loop: {options.Rooms} rooms of {options.RoomSize} + one room of {options.BigRoom}, each client sending every " +
            $"{options.Interval:0.##} s, {options.Duration:0.##} s measured after {options.Warmup:0.##} s (load average {loadBefore} before, {LoadAverage()} after)");
        PrintHeader();
        Print("bare echo", bareResult);
        Print($"Api /ws x{apis.Count}", apiResult);
    }
    return 0;
}
finally
{
    foreach (var api in apis)
    {
        await api.DisposeAsync();
    }
    if (bare is not null)
    {
        await bare.DisposeAsync();
    }
    if (servers is not null)
    {
        await servers.DisposeAsync();
    }
}

// At least 3 s of rounds (and at least one).
static async Task WarmUpAsync(Func<Task<LoadResult>> round)
{
    var until = DateTime.UtcNow + TimeSpan.FromSeconds(3);
    do
    {
        await round();
    }
    while (DateTime.UtcNow < until);
}

// What the Api's store pays per batch at least: medians of 200 SELECT 1 round trips and of 200 one-row autocommit
// INSERTs into a scratch table (dropped afterwards), on the bench's durable Postgres.
static async Task<(double RoundTripMs, double CommitMs)> PostgresCostAsync(string connectionString, CancellationToken cancellationToken)
{
    await using var connection = new NpgsqlConnection(connectionString);
    await connection.OpenAsync(cancellationToken);
    await using (var create = new NpgsqlCommand("CREATE TABLE bench_commit_cost (n int)", connection))
    {
        await create.ExecuteNonQueryAsync(cancellationToken);
    }
    async Task<double> MedianAsync(string sql)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        var times = new List<double>();
        for (var i = 0; i < 220; i++)
        {
            var started = Stopwatch.GetTimestamp();
            await command.ExecuteNonQueryAsync(cancellationToken);
            if (i >= 20)
            {
                times.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
            }
        }
        times.Sort();
        return times[times.Count / 2];
    }
    var roundTrip = await MedianAsync("SELECT 1");
    var commit = await MedianAsync("INSERT INTO bench_commit_cost VALUES (1)");
    await using (var drop = new NpgsqlCommand("DROP TABLE bench_commit_cost", connection))
    {
        await drop.ExecuteNonQueryAsync(cancellationToken);
    }
    return (roundTrip, commit);
}

static void PrintHeader() =>
    Console.WriteLine($"{"endpoint",-14} {"conns",6} {"msg/s",8} {"deliv/s",9} {"missing",7} {"errors",6} {"p50 ms",8} {"p99 ms",8} {"max ms",8} {"CPU %",6} {"peak MB",8} {"PG+Redis CPU %",14}");

static void Print(string name, LoadResult r) =>
    Console.WriteLine($"{name,-14} {r.Connections,6} {r.Sent / r.Elapsed.TotalSeconds,8:N0} {r.Delivered / r.Elapsed.TotalSeconds,9:N0} " +
        $"{r.Expected - r.Delivered,7} {r.Errors,6} {r.Percentile(0.50),8:F1} {r.Percentile(0.99),8:F1} {r.Max,8:F1} " +
        $"{100 * r.ServerCpu.TotalSeconds / r.Elapsed.TotalSeconds,6:F0} {r.ServerPeakBytes / (1024.0 * 1024),8:F0} " +
        $"{100 * r.BackendCpu.TotalSeconds / r.Elapsed.TotalSeconds,14:F0}");

static string LoadAverage() => File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "?";

static Uri ApiSocket(Uri api, Guid roomId) => new UriBuilder(api) { Scheme = "ws", Path = $"/ws/{roomId}" }.Uri;

static Uri BareSocket(Uri bare, string room) => new UriBuilder(bare) { Scheme = "ws", Path = $"/echo/{room}" }.Uri;

static Dictionary<string, string> ApiEnvironment(Uri url, ThrowawayServers servers) => new()
{
    ["ASPNETCORE_URLS"] = url.ToString(),
    ["ConnectionStrings__conductordb"] = servers.DatabaseConnectionString,
    ["ConnectionStrings__redis"] = servers.RedisConnectionString,
    ["Auth__DevLogin"] = "true",
    ["Auth__RateLimit__PermitLimit"] = "1000000",
    ["Web__PublicUrl"] = "http://127.0.0.1",
    // The bench measures throughput, not the per-user limits.
    ["Chat__MessageBurst"] = "1000000",
    ["Chat__MessagesPerSecond"] = "1000000",
    ["Logging__LogLevel__Default"] = "Warning",
};

// bench/Conductor.Bench.Chat/bin/<configuration>/net10.0/ → <project>/bin/<configuration>/net10.0/<project>.dll
static string BesideTheBench(string project)
{
    var output = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
    var configuration = output.Parent!.Name;
    var root = output.Parent.Parent!.Parent!.Parent!.Parent!.FullName;
    return Path.Combine(root, project, "bin", configuration, output.Name, $"{project}.dll");
}
