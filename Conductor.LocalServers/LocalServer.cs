using Microsoft.Extensions.Logging;

namespace Conductor.LocalServers;

/// <summary>
/// What every local server (Postgres, Redis) shares: one child process on 127.0.0.1, its port and password, its
/// console output, and the start-up wait that fails fast when the process dies and names what it last printed.
/// </summary>
public abstract class LocalServer(int port, string password, ILogger logger) : IAsyncDisposable
{
    protected ILogger Logger { get; } = logger;
    protected ManagedProcess? Process { get; set; }

    public ConsoleLog Console { get; } = new();
    public int Port { get; } = port;
    public string Password { get; } = password;
    public int? ProcessId => Process?.Id;
    public Task<int> Exited => Process?.Exited ?? Task.FromResult(0);

    /// <summary>The connection string clients get, in the form the server's Aspire integration uses.</summary>
    public abstract string ConnectionString { get; }

    /// <summary>
    /// Polls <paramref name="probe"/> (which returns null once ready, else why not) until it succeeds, the process
    /// exits, or <paramref name="timeout"/> passes.
    /// </summary>
    /// <param name="name">The executable, in errors.</param>
    /// <param name="displayName">The server's name in the "is ready" log line.</param>
    protected async Task WaitUntilReadyAsync(string name, string displayName, Func<CancellationToken, Task<string?>> probe,
        TimeSpan timeout, TimeSpan interval, CancellationToken cancellationToken)
    {
        var process = Process ?? throw new InvalidOperationException($"{name} has not been started.");
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (process.HasExited)
            {
                throw new ProvisioningException($"{name} exited during start-up: {process.Tail(5)}");
            }
            var notReady = await probe(cancellationToken).ConfigureAwait(false);
            if (notReady is null)
            {
                Logger.LogInformation("{Server} is ready on 127.0.0.1:{Port}", displayName, Port);
                return;
            }
            if (DateTime.UtcNow > deadline)
            {
                throw new ProvisioningException($"{name} was not ready within {timeout.TotalSeconds:0} s ({notReady}): {process.Tail(5)}");
            }
            await Task.Delay(interval, cancellationToken).ConfigureAwait(false);
        }
    }

    public virtual async ValueTask DisposeAsync()
    {
        if (Process is not null)
        {
            await Process.DisposeAsync().ConfigureAwait(false);
        }
        GC.SuppressFinalize(this);
    }
}
