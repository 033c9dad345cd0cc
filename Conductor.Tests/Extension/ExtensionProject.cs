using System.Diagnostics;
using System.Text;
using Conductor.Tests.Infrastructure;

namespace Conductor.Tests.Extension;

/// <summary>
/// The VS Code extension in <c>extension/</c> as the tests use it: installs its npm packages (npm ci) once per checkout,
/// packages the .vsix, installs code-server through <c>extension/scripts/install-code-server.sh</c> (idempotent) and
/// runs its npm test scripts with the servers' addresses in the environment.
/// </summary>
internal static class ExtensionProject
{
    private static readonly SemaphoreSlim Lock = new(1, 1);
    private static bool s_prepared;

    public static string Directory { get; } = Path.Combine(RepositoryPaths.Root, "extension");
    public static string Vsix => Path.Combine(Directory, "conductor.vsix");
    public static string CodeServer => Path.Combine(Directory, ".code-server", "node_modules", ".bin", "code-server");

    /// <summary>npm ci (when node_modules is missing), npm run package, and code-server; fails with the tool's output.</summary>
    public static async Task PrepareAsync(bool codeServer)
    {
        await Lock.WaitAsync();
        try
        {
            if (!File.Exists(Path.Combine(Directory, "node_modules", ".package-lock.json")))
            {
                await ExpectSuccessAsync("npm", ["ci", "--no-audit", "--no-fund"], TimeSpan.FromMinutes(5), new Dictionary<string, string>());
            }
            if (!s_prepared)
            {
                await ExpectSuccessAsync("npm", ["run", "package"], TimeSpan.FromMinutes(3), new Dictionary<string, string>());
                s_prepared = true;
            }
            if (codeServer)
            {
                await ExpectSuccessAsync("bash", ["scripts/install-code-server.sh"], TimeSpan.FromMinutes(15), new Dictionary<string, string>());
            }
        }
        finally
        {
            Lock.Release();
        }
    }

    public static async Task<(int ExitCode, string Output)> RunAsync(string fileName, IEnumerable<string> arguments, TimeSpan timeout,
        IReadOnlyDictionary<string, string> environment)
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
        foreach (var (name, value) in environment)
        {
            start.Environment[name] = value;
        }
        var output = new StringBuilder();
        using var process = new Process { StartInfo = start };
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) { lock (output) { output.AppendLine(e.Data); } } };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) { lock (output) { output.AppendLine(e.Data); } } };
        try
        {
            process.Start();
        }
        catch (System.ComponentModel.Win32Exception exception)
        {
            Assert.Fail($"'{fileName}' could not be started ({exception.Message}). The extension tests need Node.js 20 and npm on PATH.");
        }
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        using var cancel = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(cancel.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
            lock (output)
            {
                return (-1, $"{fileName} {string.Join(' ', start.ArgumentList)} did not finish within {timeout}:\n{output}");
            }
        }
        process.WaitForExit(); // flushes the asynchronous output readers
        lock (output)
        {
            return (process.ExitCode, output.ToString());
        }
    }

    private static async Task ExpectSuccessAsync(string fileName, string[] arguments, TimeSpan timeout, IReadOnlyDictionary<string, string> environment)
    {
        var (exitCode, output) = await RunAsync(fileName, arguments, timeout, environment);
        Assert.True(exitCode == 0, $"{fileName} {string.Join(' ', arguments)} failed in {Directory} ({exitCode}):\n{output}");
    }
}
