using System.Diagnostics;
using Conductor.Tests.Infrastructure;

namespace Conductor.Tests.Cli;

/// <summary>
/// The conductor CLI as a user runs it: its own build (<c>dotnet conductor.dll</c>) in a temporary HOME, with no
/// CONDUCTOR_* or GIT_* variables of the test process, so the session file lands in HOME/.config/conductor.
/// </summary>
internal sealed class CliProcess : IDisposable
{
    public CliProcess(string name)
    {
        Home = TestDirectories.Create("cli-home-" + name);
        File.WriteAllText(Path.Combine(Home, ".gitconfig"),
            $"[user]\n\tname = {name}\n\temail = {name}@example.invalid\n[init]\n\tdefaultBranch = main\n[advice]\n\tdetachedHead = false\n");
    }

    public string Home { get; }
    /// <summary>Variables every run gets (CONDUCTOR_CONFIG_DIR).</summary>
    public Dictionary<string, string> Environment { get; } = [];
    public string SessionFile => Path.Combine(Environment.GetValueOrDefault("CONDUCTOR_CONFIG_DIR") ?? Path.Combine(Home, ".config", "conductor"), "session.json");

    public sealed record Result(int ExitCode, string Output, string Error);

    public async Task<Result> RunAsync(string directory, string? input, params string[] arguments)
    {
        using var process = Process.Start(StartInfo(directory, arguments))!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (input is not null)
        {
            await process.StandardInput.WriteAsync(input);
        }
        process.StandardInput.Close();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await process.WaitForExitAsync(timeout.Token);
        return new Result(process.ExitCode, await stdout, await stderr);
    }

    /// <summary>Starts a long-running command (watch): its stdout lines arrive as they are written.</summary>
    public RunningCli Start(string directory, params string[] arguments) => new(Process.Start(StartInfo(directory, arguments))!);

    private ProcessStartInfo StartInfo(string directory, string[] arguments)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = directory,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(Infrastructure.ServiceInstance.AssemblyPath("conductor"));
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }
        foreach (var variable in start.Environment.Keys.Where(k => k.StartsWith("GIT_", StringComparison.Ordinal) || k.StartsWith("CONDUCTOR_", StringComparison.Ordinal)
            || k == "XDG_CONFIG_HOME").ToList())
        {
            start.Environment.Remove(variable);
        }
        start.Environment["HOME"] = Home;
        start.Environment["GIT_CONFIG_NOSYSTEM"] = "1";
        start.Environment["DOTNET_NOLOGO"] = "1";
        foreach (var (name, value) in Environment)
        {
            start.Environment[name] = value;
        }
        return start;
    }

    /// <summary>Runs the CLI and fails the test with its output unless it exits 0.</summary>
    public async Task<System.Text.Json.JsonElement> JsonAsync(string directory, params string[] arguments)
    {
        var result = await RunAsync(directory, null, [.. arguments, "--json"]);
        Assert.True(result.ExitCode == 0, $"conductor {string.Join(' ', arguments)} exited {result.ExitCode}: {result.Error}\n{result.Output}");
        return System.Text.Json.JsonDocument.Parse(result.Output).RootElement.Clone();
    }

    public void Dispose() => TestDirectories.TryDelete(Home);
}
