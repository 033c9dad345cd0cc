using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text;

namespace Conductor.Tests.Infrastructure;

/// <summary>
/// An npm project in the repository (a package.json and package-lock.json; node_modules git-ignored): installed with
/// <c>npm ci</c> once per checkout, then its tools run in its folder with a bounded time. The one way the tests run
/// Node tools, from the tests' own small projects to the VS Code extension's suites.
/// </summary>
public sealed class NodeProject(string directory, string installedMarker)
{
    private static readonly ConcurrentDictionary<string, SemaphoreSlim> InstallLocks = new();

    public string Directory { get; } = directory;

    /// <summary>npm ci unless <c>node_modules/{installedMarker}</c> exists; a clear failure when node or npm is missing.</summary>
    public async Task EnsureInstalledAsync(TimeSpan? installTimeout = null)
    {
        var installLock = InstallLocks.GetOrAdd(Directory, _ => new SemaphoreSlim(1, 1));
        await installLock.WaitAsync();
        try
        {
            foreach (var tool in new[] { "node", "npm" })
            {
                try
                {
                    await RunAsync(tool, ["--version"], TimeSpan.FromSeconds(30));
                }
                catch (System.ComponentModel.Win32Exception exception)
                {
                    Assert.Fail($"This test needs Node.js 20 and npm on PATH ('{tool}' could not be started: {exception.Message}). " +
                        "Install them (Debian: apt-get install -y nodejs npm) and run the tests again.");
                }
            }
            if (File.Exists(Path.Combine(Directory, "node_modules", installedMarker)))
            {
                return;
            }
            var (exitCode, output, errors) = await RunAsync("npm", ["ci", "--no-audit", "--no-fund"], installTimeout ?? TimeSpan.FromMinutes(3));
            Assert.True(exitCode == 0, $"npm ci failed in {Directory}:\n{output}\n{errors}");
        }
        finally
        {
            installLock.Release();
        }
    }

    /// <summary>
    /// Runs a tool in the project's folder, its two streams apart; killed with its children when it outlives
    /// <paramref name="timeout"/> (a <see cref="TimeoutException"/> carrying what it wrote until then).
    /// </summary>
    public async Task<(int ExitCode, string Output, string Errors)> RunAsync(string fileName, IEnumerable<string> arguments, TimeSpan timeout,
        IReadOnlyDictionary<string, string>? environment = null)
    {
        var run = await RunCoreAsync(fileName, arguments, timeout, environment);
        return run.TimedOut
            ? throw new TimeoutException($"{fileName} did not finish within {timeout}:\n{run.Log}")
            : (run.ExitCode, run.Output, run.Errors);
    }

    /// <summary>
    /// Runs a tool (a test suite) in the project's folder and answers its exit code and both streams interleaved as they
    /// came; when it outlives <paramref name="timeout"/> it is killed with its children and the answer is -1 with what
    /// it wrote until then, so a hung suite's log still reaches the failure message.
    /// </summary>
    public async Task<(int ExitCode, string Log)> RunLoggedAsync(string fileName, IEnumerable<string> arguments, TimeSpan timeout,
        IReadOnlyDictionary<string, string>? environment = null)
    {
        var run = await RunCoreAsync(fileName, arguments, timeout, environment);
        return run.TimedOut ? (-1, $"{fileName} {string.Join(' ', arguments)} did not finish within {timeout}:\n{run.Log}") : (run.ExitCode, run.Log);
    }

    private async Task<ToolRun> RunCoreAsync(string fileName, IEnumerable<string> arguments, TimeSpan timeout, IReadOnlyDictionary<string, string>? environment)
    {
        var start = new ProcessStartInfo(fileName)
        {
            WorkingDirectory = Directory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }
        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[name] = value;
        }
        var output = new StringBuilder();
        var errors = new StringBuilder();
        var log = new StringBuilder();
        using var process = new Process { StartInfo = start };
        process.OutputDataReceived += (_, e) => Append(output, e.Data);
        process.ErrorDataReceived += (_, e) => Append(errors, e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        using var cancel = new CancellationTokenSource(timeout);
        var timedOut = false;
        try
        {
            await process.WaitForExitAsync(cancel.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            timedOut = true;
        }
        process.WaitForExit(); // flushes the asynchronous output readers
        lock (log)
        {
            return new ToolRun(timedOut ? -1 : process.ExitCode, output.ToString(), errors.ToString(), log.ToString(), timedOut);
        }

        void Append(StringBuilder stream, string? line)
        {
            if (line is null)
            {
                return;
            }
            lock (log)
            {
                stream.AppendLine(line);
                log.AppendLine(line);
            }
        }
    }

    private sealed record ToolRun(int ExitCode, string Output, string Errors, string Log, bool TimedOut);
}
