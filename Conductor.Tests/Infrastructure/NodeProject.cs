using System.Collections.Concurrent;
using System.Diagnostics;

namespace Conductor.Tests.Infrastructure;

/// <summary>
/// A small npm project of the tests' own (a package.json and package-lock.json in the repository; node_modules
/// git-ignored): installed with <c>npm ci</c> once per checkout, then its tools run with a bounded time.
/// </summary>
public sealed class NodeProject(string directory, string installedMarker)
{
    private static readonly ConcurrentDictionary<string, SemaphoreSlim> InstallLocks = new();

    public string Directory { get; } = directory;

    /// <summary>npm ci unless <c>node_modules/{installedMarker}</c> exists; a clear failure when node or npm is missing.</summary>
    public async Task EnsureInstalledAsync()
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
                    Assert.Fail($"This test needs Node.js 18+ and npm on PATH ('{tool}' could not be started: {exception.Message}). " +
                        "Install them (Debian: apt-get install -y nodejs npm) and run the tests again.");
                }
            }
            if (File.Exists(Path.Combine(Directory, "node_modules", installedMarker)))
            {
                return;
            }
            var (exitCode, output, errors) = await RunAsync("npm", ["ci", "--no-audit", "--no-fund"], TimeSpan.FromMinutes(3));
            Assert.True(exitCode == 0, $"npm ci failed in {Directory}:\n{output}\n{errors}");
        }
        finally
        {
            installLock.Release();
        }
    }

    /// <summary>Runs a tool in the project's folder; killed with its children when it outlives <paramref name="timeout"/>.</summary>
    public async Task<(int ExitCode, string Output, string Errors)> RunAsync(string fileName, IEnumerable<string> arguments, TimeSpan timeout)
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
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEndAsync();
        using var cancel = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(cancel.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{fileName} did not finish within {timeout}.");
        }
        return (process.ExitCode, await output, await errors);
    }
}
