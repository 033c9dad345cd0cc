using System.Diagnostics;
using Conductor.Tests.Infrastructure;

namespace Conductor.Tests.GitRemote;

/// <summary>
/// A real git 2.39 client as a user runs it: its own HOME, no system config, and a credential helper that reads a
/// Conductor token from a 0600 file (never from argv or the environment), as the CLI's helper does.
/// </summary>
internal sealed class GitClient : IDisposable
{
    private readonly string _tokenFile;

    public GitClient(string name)
    {
        Home = TestDirectories.Create("git-client-" + name);
        _tokenFile = Path.Combine(Home, "token");
        File.WriteAllText(_tokenFile, "");
        File.SetUnixFileMode(_tokenFile, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        var helper = Path.Combine(Home, "credential-helper");
        File.WriteAllText(helper, $"#!/bin/sh\n[ \"$1\" = get ] || exit 0\necho username={name}\nprintf 'password=%s\\n' \"$(cat '{_tokenFile}')\"\n");
        File.SetUnixFileMode(helper, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        File.WriteAllText(Path.Combine(Home, ".gitconfig"),
            $"[user]\n\tname = {name}\n\temail = {name}@example.invalid\n[credential]\n\thelper = {helper}\n[init]\n\tdefaultBranch = main\n[advice]\n\tdetachedHead = false\n");
    }

    public string Home { get; }

    /// <summary>The Conductor token git's credential helper hands out from now on.</summary>
    public string Token
    {
        set => File.WriteAllText(_tokenFile, value);
    }

    public string Folder(string name) => Path.Combine(Home, name);

    public GitResult Run(string directory, params string[] arguments) => RunWith(null, directory, arguments);

    /// <summary>Runs git with extra environment variables (trace settings, which git reads only from there).</summary>
    public GitResult RunWith(IReadOnlyDictionary<string, string>? environment, string directory, params string[] arguments)
    {
        var start = new ProcessStartInfo("git")
        {
            WorkingDirectory = directory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }
        foreach (var variable in start.Environment.Keys.Where(k => k.StartsWith("GIT_", StringComparison.Ordinal)).ToList())
        {
            start.Environment.Remove(variable);
        }
        start.Environment["HOME"] = Home;
        start.Environment["XDG_CONFIG_HOME"] = Path.Combine(Home, ".config");
        start.Environment["GIT_CONFIG_NOSYSTEM"] = "1";
        start.Environment["GIT_TERMINAL_PROMPT"] = "0";
        foreach (var (key, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[key] = value;
        }
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEnd();
        process.WaitForExit();
        return new GitResult(process.ExitCode, stdout.Result, stderr, $"git {string.Join(' ', arguments)}");
    }

    /// <summary>Runs git and fails the test (with git's words) unless it succeeds.</summary>
    public string Ok(string directory, params string[] arguments)
    {
        var result = Run(directory, arguments);
        Assert.True(result.ExitCode == 0, $"{result.Command} failed ({result.ExitCode}): {result.Error}{result.Output}");
        return result.Output;
    }

    public void Dispose() => TestDirectories.TryDelete(Home);
}

internal sealed record GitResult(int ExitCode, string Output, string Error, string Command);
