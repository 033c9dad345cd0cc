using System.Diagnostics;
using System.Text;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Conductor.Workspaces.Git;

/// <summary>One git run: arguments go to git as an argv list (no shell ever parses them).</summary>
public sealed record GitInvocation(IReadOnlyList<string> Arguments)
{
    public string? WorkingDirectory { get; init; }

    /// <summary>Called with each stderr line, split on CR as well as LF so that progress lines arrive as they change.</summary>
    public Action<string>? OnStandardErrorLine { get; init; }

    /// <summary>Extra variables (author identity for a commit).</summary>
    public IReadOnlyDictionary<string, string>? Environment { get; init; }

    /// <summary>Written to git's stdin (a commit message with <c>--file=-</c>), then closed.</summary>
    public string? StandardInput { get; init; }

    /// <summary>Null: no limit beyond the cancellation token.</summary>
    public TimeSpan? Timeout { get; init; }
}

public sealed record GitResult(int ExitCode, byte[] StandardOutputBytes, string StandardError)
{
    public bool Succeeded => ExitCode == 0;
    public string StandardOutput => Encoding.UTF8.GetString(StandardOutputBytes);

    /// <summary>The last meaningful stderr lines: what git says went wrong.</summary>
    public string Reason
    {
        get
        {
            var lines = StandardError.Split(['\r', '\n'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                .Where(l => !l.Contains('%', StringComparison.Ordinal) || l.StartsWith("fatal", StringComparison.Ordinal) || l.StartsWith("error", StringComparison.Ordinal))
                .TakeLast(6);
            var text = string.Join(" | ", lines);
            return text.Length == 0 ? $"git exited with code {ExitCode}" : text.Length > 2000 ? text[..2000] : text;
        }
    }
}

public sealed class GitCommandException(string command, GitResult result)
    : Exception($"git {command} failed (exit {result.ExitCode}): {result.Reason}")
{
    public GitResult Result { get; } = result;
}

/// <summary>
/// The git CLI, kept for the one thing LibGit2Sharp cannot do: <c>git grep</c> for code search (libgit2 has no
/// grep, and walking every blob through LibGit2Sharp is far slower). Repository work (clone, fetch, worktrees,
/// commit, push) goes through <see cref="LibGitStore"/>. Each run is isolated from the machine's git set-up: no
/// system or global config, no terminal prompts, credential helpers cleared, and never a credential: the CLI
/// never talks to a remote.
/// </summary>
public sealed partial class GitCli(IOptions<WorkspaceOptions> options, ILogger<GitCli> logger)
{
    private const int MaxStandardErrorChars = 256 * 1024;
    private readonly WorkspaceOptions _options = options.Value;

    public async Task<GitResult> RunAsync(GitInvocation invocation, CancellationToken cancellationToken)
    {
        var start = new ProcessStartInfo(_options.GitPath)
        {
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            StandardErrorEncoding = Encoding.UTF8,
            StandardInputEncoding = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false),
            WorkingDirectory = invocation.WorkingDirectory ?? _options.Root,
        };
        foreach (var setting in IsolationSettings())
        {
            start.ArgumentList.Add("-c");
            start.ArgumentList.Add(setting);
        }
        foreach (var argument in invocation.Arguments)
        {
            start.ArgumentList.Add(argument);
        }

        // Nothing from the parent's git environment leaks in (GIT_DIR, GIT_ASKPASS, a developer's credential set-up).
        foreach (var name in start.Environment.Keys.Where(k => k.StartsWith("GIT_", StringComparison.Ordinal) || k == "SSH_ASKPASS").ToList())
        {
            start.Environment.Remove(name);
        }
        start.Environment["GIT_TERMINAL_PROMPT"] = "0";
        start.Environment["GIT_CONFIG_NOSYSTEM"] = "1";
        start.Environment["GIT_CONFIG_GLOBAL"] = "/dev/null";
        start.Environment["GIT_OPTIONAL_LOCKS"] = "0";
        // Stable English messages: errors are parsed and shown to users.
        start.Environment["LC_ALL"] = "C";
        start.Environment["LANGUAGE"] = "C";
        if (invocation.Environment is not null)
        {
            foreach (var (name, value) in invocation.Environment)
            {
                start.Environment[name] = value;
            }
        }

        var command = invocation.Arguments.Count > 0 ? invocation.Arguments[0] : "";
        var watch = Stopwatch.StartNew();
        using var process = new Process { StartInfo = start };
        process.Start();
        // Output is read before input is written: a command that answers line by line (cat-file --batch-check) would
        // otherwise fill its stdout pipe and stop reading its stdin while a long input is still being written.
        var stdout = ReadAllBytesAsync(process.StandardOutput.BaseStream);
        var stderr = ReadLinesAsync(process.StandardError, invocation.OnStandardErrorLine);
        if (invocation.StandardInput is { } input)
        {
            await process.StandardInput.WriteAsync(input.AsMemory(), cancellationToken).ConfigureAwait(false);
        }
        process.StandardInput.Close();

        using var timeout = invocation.Timeout is { } limit ? new CancellationTokenSource(limit) : new CancellationTokenSource();
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
        try
        {
            await process.WaitForExitAsync(linked.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            Kill(process);
            await Task.WhenAll(stdout, stderr).WaitAsync(TimeSpan.FromSeconds(10), CancellationToken.None).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            if (timeout.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
            {
                throw new TimeoutException($"git {command} did not finish within {invocation.Timeout}.");
            }
            throw;
        }
        var result = new GitResult(process.ExitCode, await stdout.ConfigureAwait(false), await stderr.ConfigureAwait(false));
        LogRan(logger, command, result.ExitCode, watch.ElapsedMilliseconds);
        return result;
    }

    /// <summary>Runs and throws <see cref="GitCommandException"/> when git fails.</summary>
    public async Task<GitResult> RunCheckedAsync(GitInvocation invocation, CancellationToken cancellationToken)
    {
        var result = await RunAsync(invocation, cancellationToken).ConfigureAwait(false);
        return result.Succeeded ? result : throw new GitCommandException(invocation.Arguments.Count > 0 ? invocation.Arguments[0] : "", result);
    }

    public Task<GitResult> RunCheckedAsync(string workingDirectory, CancellationToken cancellationToken, params string[] arguments) =>
        RunCheckedAsync(new GitInvocation(arguments) { WorkingDirectory = workingDirectory }, cancellationToken);

    private IEnumerable<string> IsolationSettings()
    {
        yield return "credential.helper=";
        yield return "core.askPass=";
        // Transports: https always; http and file only when configuration allows; nothing else (ext::, ssh) at all.
        yield return "protocol.allow=never";
        yield return "protocol.https.allow=always";
        yield return $"protocol.http.allow={(_options.AllowHttp ? "always" : "never")}";
        yield return $"protocol.file.allow={(_options.AllowFile ? "always" : "never")}";
        // A redirect could point a validated public URL at an internal address.
        yield return "http.followRedirects=false";
        // Hooks in a store are ours alone (none); never run anything a repository could ship.
        yield return "core.hooksPath=/dev/null";
        yield return "advice.detachedHead=false";
        yield return "init.defaultBranch=main";
    }

    private static void Kill(Process process)
    {
        try
        {
            process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
        }
    }

    private static async Task<byte[]> ReadAllBytesAsync(Stream stream)
    {
        using var buffer = new MemoryStream();
        await stream.CopyToAsync(buffer).ConfigureAwait(false);
        return buffer.ToArray();
    }

    private static async Task<string> ReadLinesAsync(StreamReader reader, Action<string>? onLine)
    {
        var all = new StringBuilder();
        var line = new StringBuilder();
        var chunk = new char[4096];
        int read;
        while ((read = await reader.ReadAsync(chunk).ConfigureAwait(false)) > 0)
        {
            for (var i = 0; i < read; i++)
            {
                var c = chunk[i];
                if (c is '\r' or '\n')
                {
                    if (line.Length > 0)
                    {
                        var text = line.ToString();
                        line.Clear();
                        onLine?.Invoke(text);
                        if (all.Length < MaxStandardErrorChars)
                        {
                            all.Append(text).Append('\n');
                        }
                    }
                }
                else
                {
                    line.Append(c);
                }
            }
        }
        if (line.Length > 0)
        {
            onLine?.Invoke(line.ToString());
            all.Append(line);
        }
        return all.ToString();
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "git {Command} exited with {ExitCode} after {ElapsedMs} ms")]
    private static partial void LogRan(ILogger logger, string command, int exitCode, long elapsedMs);
}
