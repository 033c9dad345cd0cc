using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;

namespace Conductor.Cli;

/// <summary>
/// The git CLI on the user's machine, run with argv only. It gets no token from here: the Conductor remote's
/// credential helper (<c>conductor credential</c>) hands git the token on its stdin when git asks.
/// </summary>
public static partial class Git
{
    public sealed record Result(int ExitCode, string Output, string Error);

    /// <summary>Runs git; <paramref name="progress"/> receives git's progress lines ("Writing objects:  45% (9/20)").</summary>
    public static async Task<Result> RunAsync(string directory, IEnumerable<string> arguments, CancellationToken cancellationToken,
        Action<string, double>? progress = null)
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
        start.Environment["GIT_TERMINAL_PROMPT"] = "0";
        using var process = Process.Start(start) ?? throw new CliException(ExitCodes.GitFailed, "git did not start; is it installed?");
        await using var kill = cancellationToken.Register(() =>
        {
            try
            {
                process.Kill(entireProcessTree: true);
            }
            catch (InvalidOperationException)
            {
            }
        });
        var stdout = process.StandardOutput.ReadToEndAsync(CancellationToken.None);
        var stderr = new StringBuilder();
        var line = new StringBuilder();
        var buffer = new char[4096];
        int read;
        while ((read = await process.StandardError.ReadAsync(buffer, CancellationToken.None)) > 0)
        {
            for (var i = 0; i < read; i++)
            {
                var c = buffer[i];
                if (c is '\r' or '\n')
                {
                    var text = line.ToString();
                    line.Clear();
                    if (ProgressLine().Match(text) is { Success: true } match && progress is not null)
                    {
                        progress(match.Groups["phase"].Value.Trim(), double.Parse(match.Groups["percent"].Value, System.Globalization.CultureInfo.InvariantCulture));
                    }
                    else if (text.Length > 0)
                    {
                        stderr.AppendLine(text);
                    }
                }
                else
                {
                    line.Append(c);
                }
            }
        }
        stderr.Append(line);
        await process.WaitForExitAsync(CancellationToken.None);
        cancellationToken.ThrowIfCancellationRequested();
        return new Result(process.ExitCode, await stdout, stderr.ToString());
    }

    public static async Task<string> OkAsync(string directory, IEnumerable<string> arguments, CancellationToken cancellationToken,
        Action<string, double>? progress = null)
    {
        var result = await RunAsync(directory, arguments, cancellationToken, progress);
        return result.ExitCode == 0
            ? result.Output
            : throw new CliException(ExitCodes.GitFailed, $"git {string.Join(' ', arguments)} failed: {result.Error.Trim()}", "git_failed");
    }

    /// <summary>The top folder of the git repository <paramref name="directory"/> is in, or null.</summary>
    public static async Task<string?> TopLevelAsync(string directory, CancellationToken cancellationToken)
    {
        var result = await RunAsync(directory, ["rev-parse", "--show-toplevel"], cancellationToken);
        return result.ExitCode == 0 ? result.Output.Trim() : null;
    }

    public static async Task<string?> ConfigAsync(string directory, string key, CancellationToken cancellationToken)
    {
        var result = await RunAsync(directory, ["config", "--get", key], cancellationToken);
        return result.ExitCode == 0 ? result.Output.Trim() : null;
    }

    [GeneratedRegex(@"^(?:remote: )?(?<phase>[A-Za-z ]+):\s+(?<percent>\d{1,3})%")]
    private static partial Regex ProgressLine();
}
