using System.Globalization;
using System.Text;
using Conductor.Hosting.Processes;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Conductor.Hosting.Provisioning;

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
/// The configuration (password included) reaches the server on standard input, never in argv.
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
        Directory.CreateDirectory(_options.DataDirectory);
        var pidFile = Path.Combine(_options.DataDirectory, "redis.pid");
        await StaleProcess.StopIfRunningAsync(pidFile, "redis-server", Logger).ConfigureAwait(false);

        Process = ManagedProcess.Start(new ProcessSpec(_executable, ["-"])
        {
            DisplayName = "redis-server",
            WorkingDirectory = _options.DataDirectory,
            StandardInput = BuildConfiguration(pidFile),
        }, Console, Logger);

        await WaitUntilReadyAsync("redis-server", "Redis",
            async token => await PingAsync(token).ConfigureAwait(false) ? null : "no answer to PING",
            _options.StartTimeout, TimeSpan.FromMilliseconds(50), cancellationToken).ConfigureAwait(false);
    }

    private string BuildConfiguration(string pidFile)
    {
        var config = new StringBuilder()
            .AppendLine("bind 127.0.0.1")
            .AppendLine(CultureInfo.InvariantCulture, $"port {Port}")
            .AppendLine("protected-mode yes")
            .AppendLine("daemonize no")
            .AppendLine(CultureInfo.InvariantCulture, $"pidfile \"{pidFile}\"")
            .AppendLine(CultureInfo.InvariantCulture, $"dir \"{_options.DataDirectory}\"")
            .AppendLine(CultureInfo.InvariantCulture, $"requirepass {Password}")
            .AppendLine("logfile \"\"");
        if (_options.Persistent)
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
