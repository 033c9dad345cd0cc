using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using Npgsql;

// Private, throwaway Postgres and Redis servers for the benchmarks: local processes on free 127.0.0.1 ports, data in
// the bench's temp folder, nothing kept. Hand-written on purpose and small: the benchmarks must not depend on the
// AppHost (an Aspire.AppHost.Sdk executable), and no package starts these servers as plain processes. Passwords never
// reach a command line (Redis reads its configuration from stdin, initdb a password file only its owner can read).
// Compiled into each benchmark (bench/Shared, linked by the .csproj files).
namespace Conductor.Bench;

internal static class BenchPorts
{
    /// <summary>A free loopback port: bound, read, released.</summary>
    public static int Next()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public static string NewPassword() => Convert.ToHexString(RandomNumberGenerator.GetBytes(24)).ToLowerInvariant();

    public static async Task StopAsync(Process process)
    {
        if (!process.HasExited)
        {
            process.Kill(entireProcessTree: true);
        }
        await process.WaitForExitAsync(CancellationToken.None);
        process.Dispose();
    }
}

/// <summary>redis-server without persistence, configured through stdin.</summary>
internal sealed class BenchRedis : IAsyncDisposable
{
    private readonly Process _process;

    private BenchRedis(Process process, int port, string password)
    {
        _process = process;
        Port = port;
        ConnectionString = $"127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)},password={password}";
    }

    public int Port { get; }

    /// <summary>StackExchange.Redis configuration string, as <c>ConnectionStrings__redis</c> takes it.</summary>
    public string ConnectionString { get; }

    public static async Task<BenchRedis> StartAsync(string folder, CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(folder);
        var port = BenchPorts.Next();
        var password = BenchPorts.NewPassword();
        var start = new ProcessStartInfo("redis-server", "-")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
            WorkingDirectory = folder,
        };
        var process = Process.Start(start) ?? throw new InvalidOperationException("redis-server did not start (apt-get install -y redis-server).");
        process.OutputDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        await process.StandardInput.WriteAsync(
            $"bind 127.0.0.1\nport {port}\nrequirepass {password}\nsave \"\"\nappendonly no\ndir {folder}\nlogfile \"\"\ndaemonize no\n");
        process.StandardInput.Close();
        var server = new BenchRedis(process, port, password);
        await server.WaitUntilReadyAsync(password, cancellationToken);
        return server;
    }

    private async Task WaitUntilReadyAsync(string password, CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (true)
        {
            try
            {
                using var client = new TcpClient();
                await client.ConnectAsync(IPAddress.Loopback, Port, cancellationToken);
                var stream = client.GetStream();
                await stream.WriteAsync(System.Text.Encoding.ASCII.GetBytes($"AUTH {password}\r\nPING\r\n"), cancellationToken);
                var buffer = new byte[64];
                var text = "";
                while (!text.Contains("PONG", StringComparison.Ordinal) && !text.Contains('-', StringComparison.Ordinal))
                {
                    var read = await stream.ReadAsync(buffer, cancellationToken);
                    if (read == 0)
                    {
                        break;
                    }
                    text += System.Text.Encoding.ASCII.GetString(buffer, 0, read);
                }
                if (text.Contains("PONG", StringComparison.Ordinal))
                {
                    return;
                }
            }
            catch (SocketException) when (DateTime.UtcNow < deadline && !_process.HasExited)
            {
            }
            if (DateTime.UtcNow > deadline || _process.HasExited)
            {
                throw new InvalidOperationException($"redis-server on port {Port} did not become ready.");
            }
            await Task.Delay(50, cancellationToken);
        }
    }

    public async ValueTask DisposeAsync() => await BenchPorts.StopAsync(_process);
}

/// <summary>A throwaway Postgres cluster (no fsync), run as the <c>postgres</c> OS user when we are root.</summary>
internal sealed class BenchPostgres : IAsyncDisposable
{
    private const string SuperUser = "postgres";
    private readonly Process _process;
    private readonly string _password;

    private BenchPostgres(Process process, int port, string password)
    {
        _process = process;
        Port = port;
        _password = password;
    }

    public int Port { get; }

    public string ConnectionStringFor(string database) =>
        $"Host=127.0.0.1;Port={Port.ToString(CultureInfo.InvariantCulture)};Username={SuperUser};Password={_password};Database={database}";

    public static async Task<BenchPostgres> StartAsync(string folder, CancellationToken cancellationToken)
    {
        var bin = Directory.GetDirectories("/usr/lib/postgresql").OrderByDescending(d => int.TryParse(Path.GetFileName(d), out var v) ? v : 0)
            .Select(d => Path.Combine(d, "bin")).FirstOrDefault(d => File.Exists(Path.Combine(d, "initdb")))
            ?? throw new InvalidOperationException("No Postgres binaries under /usr/lib/postgresql (apt-get install -y postgresql).");
        var asRoot = Environment.UserName == "root";
        Directory.CreateDirectory(folder);
        var port = BenchPorts.Next();
        var password = BenchPorts.NewPassword();
        var data = Path.Combine(folder, "data");
        var passwordFile = Path.Combine(folder, ".pw");
        await File.WriteAllTextAsync(passwordFile, password, cancellationToken);
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(passwordFile, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }
        try
        {
            if (asRoot)
            {
                await RunAsync("chown", ["-R", $"{SuperUser}:{SuperUser}", folder], asRoot: false, cancellationToken);
            }
            await RunAsync(Path.Combine(bin, "initdb"), ["-D", data, "-U", SuperUser, $"--pwfile={passwordFile}", "--auth=scram-sha-256",
                "--encoding=UTF8", "--locale=C", "--no-sync"], asRoot, cancellationToken);
        }
        finally
        {
            File.Delete(passwordFile);
        }
        var process = Process.Start(Command(Path.Combine(bin, "postgres"), ["-D", data, "-p", port.ToString(CultureInfo.InvariantCulture),
            "-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=", "-c", "max_connections=200",
            "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"], asRoot, redirect: true))
            ?? throw new InvalidOperationException("postgres did not start.");
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var server = new BenchPostgres(process, port, password);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (true)
        {
            try
            {
                await using var connection = new NpgsqlConnection(server.ConnectionStringFor("postgres") + ";Pooling=false;Timeout=2");
                await connection.OpenAsync(cancellationToken);
                return server;
            }
            catch (NpgsqlException) when (DateTime.UtcNow < deadline && !process.HasExited)
            {
                await Task.Delay(100, cancellationToken);
            }
        }
    }

    public async Task EnsureDatabaseAsync(string database, CancellationToken cancellationToken)
    {
        await using var connection = new NpgsqlConnection(ConnectionStringFor("postgres") + ";Pooling=false");
        await connection.OpenAsync(cancellationToken);
        await using var create = new NpgsqlCommand($"CREATE DATABASE \"{database.Replace("\"", "\"\"", StringComparison.Ordinal)}\"", connection);
        await create.ExecuteNonQueryAsync(cancellationToken);
    }

    public async ValueTask DisposeAsync()
    {
        NpgsqlConnection.ClearAllPools();
        await BenchPorts.StopAsync(_process);
    }

    private static ProcessStartInfo Command(string executable, IReadOnlyList<string> arguments, bool asRoot, bool redirect)
    {
        // Postgres refuses to run as root: setpriv execs it in place as the postgres user.
        var start = new ProcessStartInfo(asRoot ? "setpriv" : executable)
        {
            UseShellExecute = false,
            RedirectStandardOutput = redirect,
            RedirectStandardError = redirect,
        };
        foreach (var argument in (IEnumerable<string>)(asRoot
            ? [$"--reuid={SuperUser}", $"--regid={SuperUser}", "--init-groups", "--", executable, .. arguments]
            : arguments))
        {
            start.ArgumentList.Add(argument);
        }
        return start;
    }

    private static async Task RunAsync(string executable, IReadOnlyList<string> arguments, bool asRoot, CancellationToken cancellationToken)
    {
        using var process = Process.Start(Command(executable, arguments, asRoot, redirect: true))
            ?? throw new InvalidOperationException($"{executable} did not start.");
        var output = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var error = process.StandardError.ReadToEndAsync(cancellationToken);
        await process.WaitForExitAsync(cancellationToken);
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{Path.GetFileName(executable)} failed ({process.ExitCode}): {await output}{await error}");
        }
    }
}
