using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Conductor.Redis;

// Compares Conductor.Redis with redis-benchmark on the same workloads against a private redis-server on 127.0.0.1.
// redis-benchmark runs 50 connections with 16 commands pipelined on each (800 in flight); our client runs 800
// concurrent callers over its single multiplexed connection. The whole run is bounded (and the server stopped) by
// a deadline, whatever happens.

const int Requests = 200_000;
const int Pipeline = 16;
const int Clients = 50;
const int PayloadSize = 3; // redis-benchmark's default -d
var deadline = TimeSpan.FromSeconds(55);

using var runTimeout = new CancellationTokenSource(deadline);
var port = FreePort();
using var server = StartServer(port);
try
{
    await using var client = await ConnectWhenReadyAsync(port, runTimeout.Token);
    Console.WriteLine($"redis-server {port}: {Requests:N0} requests, pipeline {Pipeline}, {Clients} clients ({Clients * Pipeline} in flight), {PayloadSize}-byte values");
    Console.WriteLine();

    var reference = await RunRedisBenchmarkAsync(port, ["-t", "set,get", "-n", Requests.ToString(CultureInfo.InvariantCulture)], runTimeout.Token);
    var xaddReference = await RunRedisBenchmarkAsync(port, ["-n", Requests.ToString(CultureInfo.InvariantCulture), "XADD", "bench:stream:reference", "*", "f", "v"], runTimeout.Token);

    var payload = new string('x', PayloadSize);
    // Warm-up so the JIT's tiering is not what we measure.
    await RunOursAsync(20_000, () => client.SetAsync("key:__rand_int__", payload), runTimeout.Token);
    await RunOursAsync(20_000, () => client.GetAsync("key:__rand_int__"), runTimeout.Token);
    await client.ExecuteAsync("DEL", "bench:stream:ours");

    var oursSet = await RunOursAsync(Requests, () => client.SetAsync("key:__rand_int__", payload), runTimeout.Token);
    var oursGet = await RunOursAsync(Requests, () => client.GetAsync("key:__rand_int__"), runTimeout.Token);
    RedisValue[] xaddArgs = ["bench:stream:ours", "*", "f", "v"];
    var oursXadd = await RunOursAsync(Requests, () => client.ExecuteAsync("XADD", xaddArgs), runTimeout.Token);

    Console.WriteLine($"{"workload",-8} {"redis-benchmark ops/s",22} {"Conductor.Redis ops/s",22} {"ours/theirs",12}");
    Report("SET", reference.GetValueOrDefault("SET"), oursSet);
    Report("GET", reference.GetValueOrDefault("GET"), oursGet);
    Report("XADD", xaddReference.Values.FirstOrDefault(), oursXadd);
    await client.ExecuteAsync("SHUTDOWN", "NOSAVE").AsTask().ContinueWith(_ => { }, TaskScheduler.Default);
}
finally
{
    if (!server.HasExited)
    {
        server.Kill(entireProcessTree: true);
    }
    await server.WaitForExitAsync(CancellationToken.None);
}
return 0;

static void Report(string name, double theirs, double ours) =>
    Console.WriteLine($"{name,-8} {theirs,22:N0} {ours,22:N0} {(theirs > 0 ? ours / theirs : double.NaN),12:P0}");

static async Task<double> RunOursAsync<T>(int requests, Func<ValueTask<T>> operation, CancellationToken cancellationToken)
{
    var remaining = requests;
    var stopwatch = Stopwatch.StartNew();
    var workers = Enumerable.Range(0, Clients * Pipeline).Select(async _ =>
    {
        while (Interlocked.Decrement(ref remaining) >= 0)
        {
            cancellationToken.ThrowIfCancellationRequested();
            await operation().ConfigureAwait(false);
        }
    });
    await Task.WhenAll(workers).ConfigureAwait(false);
    return requests / stopwatch.Elapsed.TotalSeconds;
}

static async Task<Dictionary<string, double>> RunRedisBenchmarkAsync(int port, string[] workload, CancellationToken cancellationToken)
{
    var start = new ProcessStartInfo("redis-benchmark")
    {
        RedirectStandardOutput = true,
        RedirectStandardError = true,
        UseShellExecute = false,
    };
    foreach (var argument in (string[])["-h", "127.0.0.1", "-p", port.ToString(CultureInfo.InvariantCulture), "-P", Pipeline.ToString(CultureInfo.InvariantCulture),
        "-c", Clients.ToString(CultureInfo.InvariantCulture), "-d", PayloadSize.ToString(CultureInfo.InvariantCulture), "--csv", .. workload])
    {
        start.ArgumentList.Add(argument);
    }
    using var process = Process.Start(start) ?? throw new InvalidOperationException("redis-benchmark did not start.");
    var output = process.StandardOutput.ReadToEndAsync(cancellationToken);
    try
    {
        await process.WaitForExitAsync(cancellationToken);
    }
    catch (OperationCanceledException)
    {
        process.Kill(entireProcessTree: true);
        throw;
    }
    // CSV: a header line ("test","rps",...) then one line per test: "SET","1234567.89",...
    var results = new Dictionary<string, double>(StringComparer.Ordinal);
    foreach (var line in (await output).Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
    {
        var fields = line.Split(',').Select(field => field.Trim('"')).ToArray();
        if (fields.Length >= 2 && double.TryParse(fields[1], NumberStyles.Float, CultureInfo.InvariantCulture, out var rps))
        {
            results[fields[0].Split(' ')[0]] = rps;
        }
    }
    return results;
}

static Process StartServer(int port)
{
    var start = new ProcessStartInfo("/usr/bin/redis-server", "-")
    {
        RedirectStandardInput = true,
        RedirectStandardOutput = true,
        UseShellExecute = false,
    };
    var process = Process.Start(start) ?? throw new InvalidOperationException("redis-server did not start.");
    process.StandardInput.Write($"bind 127.0.0.1\nport {port}\nsave \"\"\nappendonly no\nlogfile \"\"\ndaemonize no\n");
    process.StandardInput.Close();
    process.OutputDataReceived += (_, _) => { };
    process.BeginOutputReadLine();
    return process;
}

static async Task<RedisClient> ConnectWhenReadyAsync(int port, CancellationToken cancellationToken)
{
    while (true)
    {
        try
        {
            return await RedisClient.ConnectAsync($"127.0.0.1:{port},connectTimeout=1000,syncTimeout=30000", cancellationToken: cancellationToken);
        }
        catch (RedisConnectionException) when (!cancellationToken.IsCancellationRequested)
        {
            await Task.Delay(50, cancellationToken);
        }
    }
}

static int FreePort()
{
    using var listener = new TcpListener(IPAddress.Loopback, 0);
    listener.Start();
    return ((IPEndPoint)listener.LocalEndpoint).Port;
}
