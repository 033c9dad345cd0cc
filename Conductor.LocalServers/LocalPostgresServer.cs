using System.Globalization;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace Conductor.LocalServers;

public sealed record LocalPostgresOptions(string DataDirectory, string Password)
{
    /// <summary>0 picks a free port.</summary>
    public int Port { get; init; }
    /// <summary>Off for throwaway test clusters: no fsync, much faster, and a crash may lose the data.</summary>
    public bool Durable { get; init; } = true;
    public int MaxConnections { get; init; } = 200;
    public TimeSpan StartTimeout { get; init; } = TimeSpan.FromSeconds(60);
}

/// <summary>
/// A PostgreSQL cluster as a local child process on 127.0.0.1, initialised on first use with a generated password
/// (scram-sha-256). Postgres refuses to run as root, so as root it runs as the <c>postgres</c> OS user through
/// setpriv, which execs in place: the child we hold is the postmaster itself, and stopping it stops the server.
/// </summary>
public sealed class LocalPostgresServer : LocalServer
{
    private const string SuperUser = "postgres";
    private readonly LocalPostgresOptions _options;
    private readonly PostgresBinaries _binaries;

    private LocalPostgresServer(LocalPostgresOptions options, PostgresBinaries binaries, int port, ILogger logger)
        : base(port, options.Password, logger)
    {
        _options = options;
        _binaries = binaries;
    }

    private string ClusterDirectory => Path.Combine(_options.DataDirectory, "data");

    /// <summary>The server's connection string, as Aspire writes it (no database).</summary>
    public override string ConnectionString =>
        $"Host=127.0.0.1;Port={Port.ToString(CultureInfo.InvariantCulture)};Username={SuperUser};Password={Password}";

    public string ConnectionStringFor(string database) => $"{ConnectionString};Database={database}";

    public static async Task<LocalPostgresServer> StartAsync(LocalPostgresOptions options, ILogger? logger = null, CancellationToken cancellationToken = default)
    {
        logger ??= NullLogger.Instance;
        var binaries = await PostgresBinaries.EnsureAsync(logger, cancellationToken).ConfigureAwait(false);
        var port = options.Port != 0 ? options.Port : FreePort.Next();
        var server = new LocalPostgresServer(options, binaries, port, logger);
        try
        {
            await server.InitialiseAsync(cancellationToken).ConfigureAwait(false);
            await server.StartProcessAsync(cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            await server.DisposeAsync().ConfigureAwait(false);
            throw;
        }
        return server;
    }

    /// <summary>
    /// Everything short of starting the server, for an orchestrator that starts it itself (the AppHost's DCP):
    /// finds (or installs) the binaries, initialises the cluster on first use (initdb reads the password from a
    /// file), stops a server an earlier killed run left behind, and returns the command that runs the postmaster
    /// (through setpriv as the postgres user when root). <paramref name="options"/> must name the port.
    /// </summary>
    public static async Task<ServerCommand> PrepareAsync(LocalPostgresOptions options, ILogger? logger = null, CancellationToken cancellationToken = default)
    {
        if (options.Port == 0)
        {
            throw new ArgumentException("The port must be chosen before the server command is built.", nameof(options));
        }
        logger ??= NullLogger.Instance;
        var binaries = await PostgresBinaries.EnsureAsync(logger, cancellationToken).ConfigureAwait(false);
        var server = new LocalPostgresServer(options, binaries, options.Port, logger);
        await server.InitialiseAsync(cancellationToken).ConfigureAwait(false);
        return await server.PrepareProcessAsync().ConfigureAwait(false);
    }

    /// <summary>
    /// Asks the postmaster of <paramref name="dataDirectory"/> for a fast shutdown (SIGINT: roll back open
    /// transactions, checkpoint, exit), the quick and clean stop. SIGTERM, what a process manager sends, is Postgres's
    /// "smart" shutdown, which waits for every client to disconnect first. Returns false when no server runs there.
    /// </summary>
    public static bool RequestFastShutdown(string dataDirectory)
    {
        var pidFile = Path.Combine(dataDirectory, "data", "postmaster.pid");
        try
        {
            var firstLine = File.Exists(pidFile) ? File.ReadLines(pidFile).FirstOrDefault()?.Trim() : null;
            return int.TryParse(firstLine, out var pid) && pid > 0 && NativeMethods.TrySignal(pid, NativeMethods.SIGINT);
        }
        catch (IOException)
        {
            return false;
        }
        catch (UnauthorizedAccessException)
        {
            return false;
        }
    }

    private async Task InitialiseAsync(CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(_options.DataDirectory);
        if (NativeMethods.IsRoot)
        {
            await RunCheckedAsync("chown", ["-R", $"{SuperUser}:{SuperUser}", _options.DataDirectory], cancellationToken).ConfigureAwait(false);
            var (canWrite, _) = await ServerBinaries.RunAsync(_binaries.Setpriv!, [.. AsPostgresUser, "test", "-w", _options.DataDirectory], cancellationToken).ConfigureAwait(false);
            if (canWrite != 0)
            {
                throw new ProvisioningException(
                    $"The postgres OS user cannot reach {_options.DataDirectory}: give its parent folders search permission (chmod o+x on each) or move the data folder.");
            }
        }
        if (File.Exists(Path.Combine(ClusterDirectory, "PG_VERSION")))
        {
            return;
        }

        Logger.LogInformation("Initialising a Postgres cluster in {Directory}", ClusterDirectory);
        // initdb reads the superuser's password from a file; it lives for the duration of initdb, readable by its owner only.
        var passwordFile = Path.Combine(_options.DataDirectory, ".initdb-password");
        SecretFile.Write(passwordFile, Password);
        try
        {
            if (NativeMethods.IsRoot)
            {
                await RunCheckedAsync("chown", [$"{SuperUser}:{SuperUser}", passwordFile], cancellationToken).ConfigureAwait(false);
            }
            await RunCheckedAsync(_binaries.InitDb, [
                "-D", ClusterDirectory, "-U", SuperUser, $"--pwfile={passwordFile}",
                "--auth-local=scram-sha-256", "--auth-host=scram-sha-256", "--encoding=UTF8", "--locale=C",
                ..(_options.Durable ? Array.Empty<string>() : ["--no-sync"]),
            ], cancellationToken, asPostgresUser: true).ConfigureAwait(false);
        }
        finally
        {
            File.Delete(passwordFile);
        }
    }

    private async Task<ServerCommand> PrepareProcessAsync()
    {
        await StaleProcess.StopIfRunningAsync(Path.Combine(ClusterDirectory, "postmaster.pid"), "postgres", Logger).ConfigureAwait(false);

        List<string> serverArguments =
        [
            "-D", ClusterDirectory, "-p", Port.ToString(CultureInfo.InvariantCulture),
            "-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=",
            "-c", $"max_connections={_options.MaxConnections.ToString(CultureInfo.InvariantCulture)}",
        ];
        if (!_options.Durable)
        {
            serverArguments.AddRange(["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"]);
        }
        var (fileName, arguments) = Command(_binaries.Postgres, serverArguments, asPostgresUser: true);
        return new ServerCommand(fileName, arguments, _options.DataDirectory);
    }

    private async Task StartProcessAsync(CancellationToken cancellationToken)
    {
        var command = await PrepareProcessAsync().ConfigureAwait(false);
        Process = ManagedProcess.Start(new ProcessSpec(command.FileName, command.Arguments)
        {
            DisplayName = "postgres",
            WorkingDirectory = command.WorkingDirectory,
        }, Console, Logger);

        await WaitUntilReadyAsync("postgres", "Postgres", async token =>
        {
            try
            {
                await using var connection = new NpgsqlConnection($"{ConnectionString};Database=postgres;Timeout=2;Pooling=false");
                await connection.OpenAsync(token).ConfigureAwait(false);
                return null;
            }
            catch (NpgsqlException ex)
            {
                return ex.Message;
            }
        }, _options.StartTimeout, TimeSpan.FromMilliseconds(100), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Creates <paramref name="database"/> unless it exists (Aspire's AddDatabase does the same).</summary>
    public Task EnsureDatabaseAsync(string database, CancellationToken cancellationToken = default) =>
        EnsureDatabaseAsync(ConnectionString, database, cancellationToken);

    /// <summary>Creates <paramref name="database"/> on the server <paramref name="serverConnectionString"/> names, unless it exists.</summary>
    public static async Task EnsureDatabaseAsync(string serverConnectionString, string database, CancellationToken cancellationToken = default)
    {
        await using var connection = new NpgsqlConnection($"{serverConnectionString};Database=postgres;Pooling=false");
        await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var exists = new NpgsqlCommand("SELECT 1 FROM pg_database WHERE datname = @name", connection);
        exists.Parameters.AddWithValue("name", database);
        if (await exists.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is not null)
        {
            return;
        }
        var quoted = "\"" + database.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";
        await using var create = new NpgsqlCommand($"CREATE DATABASE {quoted}", connection);
        try
        {
            await create.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.DuplicateDatabase)
        {
            // Created concurrently by someone else: what we wanted.
        }
    }

    /// <summary>Stops the server with Postgres's fast shutdown (SIGINT), which checkpoints and keeps the data.</summary>
    public async Task StopAsync()
    {
        if (Process is not null)
        {
            await Process.StopAsync(TimeSpan.FromSeconds(20), NativeMethods.SIGINT).ConfigureAwait(false);
        }
    }

    /// <summary>A fast shutdown first (SIGINT checkpoints), rather than the generic SIGTERM-then-kill.</summary>
    public override async ValueTask DisposeAsync()
    {
        await StopAsync().ConfigureAwait(false);
        await base.DisposeAsync().ConfigureAwait(false);
    }

    private string[] AsPostgresUser => [$"--reuid={SuperUser}", $"--regid={SuperUser}", "--init-groups", "--"];

    private (string FileName, IReadOnlyList<string> Arguments) Command(string executable, IReadOnlyList<string> arguments, bool asPostgresUser) =>
        asPostgresUser && NativeMethods.IsRoot
            ? (_binaries.Setpriv!, [.. AsPostgresUser, executable, .. arguments])
            : (executable, arguments);

    private async Task RunCheckedAsync(string executable, IReadOnlyList<string> arguments, CancellationToken cancellationToken, bool asPostgresUser = false)
    {
        var (fileName, commandArguments) = Command(executable, arguments, asPostgresUser);
        var (exitCode, output) = await ServerBinaries.RunAsync(fileName, commandArguments, cancellationToken).ConfigureAwait(false);
        if (exitCode != 0)
        {
            throw new ProvisioningException($"{Path.GetFileName(executable)} failed with exit code {exitCode}: {output.Trim()}");
        }
    }

    private sealed record PostgresBinaries(string InitDb, string Postgres, string? Setpriv)
    {
        public static async Task<PostgresBinaries> EnsureAsync(ILogger logger, CancellationToken cancellationToken)
        {
            var initDb = await ServerBinaries.EnsureAsync("initdb", "postgresql", VersionedBinDirectories, logger, cancellationToken).ConfigureAwait(false);
            // Prefer the postgres binary that sits beside the initdb we found, so versions match.
            var postgres = ServerBinaries.Find("postgres", [Path.GetDirectoryName(initDb)!, .. VersionedBinDirectories()])
                ?? throw new ProvisioningException("initdb was found but the postgres server binary was not: apt-get install -y postgresql");
            string? setpriv = null;
            if (NativeMethods.IsRoot)
            {
                setpriv = ServerBinaries.Find("setpriv")
                    ?? throw new ProvisioningException("Running as root needs setpriv to start Postgres as the postgres user: apt-get install -y util-linux");
            }
            return new PostgresBinaries(ResolveLink(initDb), ResolveLink(postgres), setpriv);
        }

        /// <summary>Debian keeps the server binaries in /usr/lib/postgresql/&lt;major&gt;/bin; newest first.</summary>
        private static IEnumerable<string> VersionedBinDirectories()
        {
            const string root = "/usr/lib/postgresql";
            if (!Directory.Exists(root))
            {
                return [];
            }
            return Directory.EnumerateDirectories(root)
                .Select(dir => (dir, version: int.TryParse(Path.GetFileName(dir), out var v) ? v : 0))
                .OrderByDescending(entry => entry.version)
                .Select(entry => Path.Combine(entry.dir, "bin"));
        }

        private static string ResolveLink(string path) =>
            File.ResolveLinkTarget(path, returnFinalTarget: true)?.FullName ?? path;
    }
}
