using System.Globalization;
using System.Text;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Conductor.LocalServers;

public sealed record LocalRedisOptions(string DataDirectory, string Password)
{
    /// <summary>0 picks a free port.</summary>
    public int Port { get; init; }
    /// <summary>Append-only file and snapshots, so data survives a restart. Tests that restart "empty" turn this off.</summary>
    public bool Persistent { get; init; } = true;
    public TimeSpan StartTimeout { get; init; } = TimeSpan.FromSeconds(30);
}

/// <summary>
/// redis-server as a local child process on 127.0.0.1: a free port, a password, data in its own folder.
/// The configuration (password included) is a file only its owner reads (0600), never argv.
/// </summary>
public sealed class LocalRedisServer : LocalServer
{
    private readonly LocalRedisOptions _options;
    private readonly string _executable;

    private LocalRedisServer(LocalRedisOptions options, string executable, int port, ILogger logger)
        : base(port, options.Password, logger)
    {
        _options = options;
        _executable = executable;
    }

    /// <summary>StackExchange/Aspire style, as <c>ConnectionStrings__redis</c> carries it.</summary>
    public override string ConnectionString => $"127.0.0.1:{Port.ToString(CultureInfo.InvariantCulture)},password={Password}";

    public static async Task<LocalRedisServer> StartAsync(LocalRedisOptions options, ILogger? logger = null, CancellationToken cancellationToken = default)
    {
        logger ??= NullLogger.Instance;
        var executable = await ServerBinaries.EnsureAsync("redis-server", "redis-server", () => [], logger, cancellationToken).ConfigureAwait(false);
        var port = options.Port != 0 ? options.Port : FreePort.Next();
        var server = new LocalRedisServer(options, executable, port, logger);
        try
        {
            await server.StartProcessAsync(cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            await server.DisposeAsync().ConfigureAwait(false);
            throw;
        }
        return server;
    }

    private async Task StartProcessAsync(CancellationToken cancellationToken)
    {
        var command = await PrepareAsync(_options with { Port = Port }, _executable, Logger).ConfigureAwait(false);
        Process = ManagedProcess.Start(new ProcessSpec(command.FileName, command.Arguments)
        {
            DisplayName = "redis-server",
            WorkingDirectory = command.WorkingDirectory,
        }, Console, Logger);

        await WaitUntilReadyAsync("redis-server", "Redis",
            async token => await PingAsync(token).ConfigureAwait(false) ? null : "no answer to PING",
            _options.StartTimeout, TimeSpan.FromMilliseconds(50), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Everything short of starting the process, for an orchestrator that starts it itself (the AppHost's DCP):
    /// finds (or installs) redis-server, stops a server an earlier killed run left behind, and writes the
    /// configuration, password included, to a file only its owner can read. <paramref name="options"/> must name the port.
    /// </summary>
    public static async Task<ServerCommand> PrepareAsync(LocalRedisOptions options, ILogger? logger = null, CancellationToken cancellationToken = default)
    {
        logger ??= NullLogger.Instance;
        var executable = await ServerBinaries.EnsureAsync("redis-server", "redis-server", () => [], logger, cancellationToken).ConfigureAwait(false);
        return await PrepareAsync(options, executable, logger).ConfigureAwait(false);
    }

    private static async Task<ServerCommand> PrepareAsync(LocalRedisOptions options, string executable, ILogger logger)
    {
        if (options.Port == 0)
        {
            throw new ArgumentException("The port must be chosen before the configuration is written.", nameof(options));
        }
        Directory.CreateDirectory(options.DataDirectory);
        var pidFile = Path.Combine(options.DataDirectory, "redis.pid");
        await StaleProcess.StopIfRunningAsync(pidFile, "redis-server", logger).ConfigureAwait(false);
        var configFile = Path.Combine(options.DataDirectory, "redis.conf");
        SecretFile.Write(configFile, BuildConfiguration(options, pidFile));
        return new ServerCommand(executable, [configFile], options.DataDirectory);
    }

    private static string BuildConfiguration(LocalRedisOptions options, string pidFile)
    {
        var config = new StringBuilder()
            .AppendLine("bind 127.0.0.1")
            .AppendLine(CultureInfo.InvariantCulture, $"port {options.Port}")
            .AppendLine("protected-mode yes")
            .AppendLine("daemonize no")
            .AppendLine(CultureInfo.InvariantCulture, $"pidfile \"{pidFile}\"")
            .AppendLine(CultureInfo.InvariantCulture, $"dir \"{options.DataDirectory}\"")
            .AppendLine(CultureInfo.InvariantCulture, $"requirepass {options.Password}")
            .AppendLine("logfile \"\"");
        if (options.Persistent)
        {
            config.AppendLine("appendonly yes").AppendLine("appendfsync everysec").AppendLine("save 60 1");
        }
        else
        {
            config.AppendLine("appendonly no").AppendLine("save \"\"");
        }
        return config.ToString();
    }

    /// <summary>True once the server answers AUTH and PING.</summary>
    public Task<bool> PingAsync(CancellationToken cancellationToken = default) =>
        RedisProbe.PingAsync(ConnectionString, cancellationToken);

    /// <summary>Stops the server (it saves its data first when persistent).</summary>
    public async Task StopAsync()
    {
        if (Process is not null)
        {
            await Process.StopAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false);
        }
    }

    /// <summary>Kills the server without letting it save, as a crash would.</summary>
    public async Task KillAsync()
    {
        if (Process is not null)
        {
            await Process.StopAsync(TimeSpan.Zero, signal: 9).ConfigureAwait(false);
        }
    }

    /// <summary>Stops and starts again on the same port; <paramref name="discardData"/> starts it with an empty data set.</summary>
    public async Task RestartAsync(bool discardData = false, CancellationToken cancellationToken = default)
    {
        if (discardData)
        {
            await KillAsync().ConfigureAwait(false);
            foreach (var entry in new DirectoryInfo(_options.DataDirectory).EnumerateFileSystemInfos())
            {
                if (entry is DirectoryInfo directory) { directory.Delete(recursive: true); } else { entry.Delete(); }
            }
        }
        else
        {
            await StopAsync().ConfigureAwait(false);
        }
        await StartProcessAsync(cancellationToken).ConfigureAwait(false);
    }

}
