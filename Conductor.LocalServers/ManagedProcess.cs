using System.Diagnostics;
using Microsoft.Extensions.Logging;

namespace Conductor.LocalServers;

/// <summary>What to start: the command, its arguments (never secrets: they would show in process listings),
/// its environment, and text for its standard input (where secrets may go).</summary>
public sealed record ProcessSpec(string FileName, IReadOnlyList<string> Arguments)
{
    public string? WorkingDirectory { get; init; }
    public IReadOnlyDictionary<string, string?> Environment { get; init; } = new Dictionary<string, string?>();
    public string? StandardInput { get; init; }
    /// <summary>Name shown in logs and on the dashboard.</summary>
    public string DisplayName { get; init; } = Path.GetFileName(FileName);

    /// <summary>
    /// Runs the child in a session (and process group) of its own, as Aspire's orchestrator does: a Ctrl+C in the
    /// terminal then reaches only the AppHost, which stops its children in order (projects before the servers they
    /// use) instead of every process getting SIGINT at once.
    /// </summary>
    public bool OwnProcessGroup { get; init; } = true;
}

/// <summary>One line a process wrote, kept for the dashboard's live console.</summary>
public sealed record ConsoleLine(long Sequence, DateTimeOffset Timestamp, bool IsError, string Text);

/// <summary>
/// A child process whose output is captured line by line and which is stopped gracefully: SIGTERM (or SIGINT,
/// Postgres's "fast" shutdown) first, then a kill of its whole tree when it does not exit in time.
/// </summary>
public sealed class ManagedProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly ConsoleLog _log;
    private readonly ILogger _logger;
    private readonly TaskCompletionSource<int> _exited = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private ManagedProcess(Process process, ConsoleLog log, ILogger logger, string displayName)
    {
        _process = process;
        _log = log;
        _logger = logger;
        DisplayName = displayName;
    }

    private static readonly Lazy<string?> SetsidPath = new(() =>
        new[] { "/usr/bin/setsid", "/bin/setsid" }.FirstOrDefault(File.Exists));

    public string DisplayName { get; }
    public int Id => _process.Id;
    public bool HasExited => _exited.Task.IsCompleted;
    public Task<int> Exited => _exited.Task;

    public static ManagedProcess Start(ProcessSpec spec, ConsoleLog log, ILogger logger)
    {
        // setsid execs in place (a freshly forked child never leads a group, so it need not fork): the pid we hold
        // is still the program's own.
        var setsid = spec.OwnProcessGroup && OperatingSystem.IsLinux() ? SetsidPath.Value : null;
        var startInfo = new ProcessStartInfo(setsid ?? spec.FileName)
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            WorkingDirectory = spec.WorkingDirectory ?? Environment.CurrentDirectory,
        };
        if (setsid is not null)
        {
            startInfo.ArgumentList.Add(spec.FileName);
        }
        foreach (var argument in spec.Arguments)
        {
            startInfo.ArgumentList.Add(argument);
        }
        foreach (var (name, value) in spec.Environment)
        {
            if (value is null)
            {
                startInfo.Environment.Remove(name);
            }
            else
            {
                startInfo.Environment[name] = value;
            }
        }

        var process = new Process { StartInfo = startInfo, EnableRaisingEvents = true };
        var managed = new ManagedProcess(process, log, logger, spec.DisplayName);
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) log.Append(isError: false, e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) log.Append(isError: true, e.Data); };
        process.Exited += (_, _) => managed.OnExited();

        if (!process.Start())
        {
            throw new InvalidOperationException($"Could not start {spec.DisplayName}.");
        }
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        if (spec.StandardInput is not null)
        {
            process.StandardInput.Write(spec.StandardInput);
        }
        process.StandardInput.Close();
        logger.LogDebug("Started {Process} (pid {Pid})", spec.DisplayName, process.Id);
        return managed;
    }

    private void OnExited()
    {
        int exitCode;
        try
        {
            // Let the asynchronous readers drain before anyone looks at the last lines.
            _process.WaitForExit();
            exitCode = _process.ExitCode;
        }
        catch (InvalidOperationException)
        {
            exitCode = -1;
        }
        _exited.TrySetResult(exitCode);
    }

    /// <summary>Asks the process to stop with <paramref name="signal"/>, then kills its tree after <paramref name="timeout"/>.</summary>
    public async Task StopAsync(TimeSpan timeout, int signal = NativeMethods.SIGTERM)
    {
        if (HasExited)
        {
            return;
        }
        if (NativeMethods.TrySignal(_process.Id, signal))
        {
            var finished = await Task.WhenAny(_exited.Task, Task.Delay(timeout)).ConfigureAwait(false);
            if (finished == _exited.Task)
            {
                return;
            }
            _logger.LogWarning("{Process} (pid {Pid}) did not stop within {Timeout}; killing it", DisplayName, _process.Id, timeout);
        }
        try
        {
            _process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }
        await Task.WhenAny(_exited.Task, Task.Delay(TimeSpan.FromSeconds(5))).ConfigureAwait(false);
    }

    /// <summary>The last lines the process wrote, to explain a failed start.</summary>
    public string Tail(int lines = 20) => string.Join(Environment.NewLine, _log.Snapshot().TakeLast(lines).Select(l => l.Text));

    public async ValueTask DisposeAsync()
    {
        await StopAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false);
        _process.Dispose();
    }
}
