using System.Diagnostics;
using System.Text;
using System.Threading.Channels;

namespace Conductor.Tests.Cli;

/// <summary>A CLI process that keeps running (<c>conductor watch</c>): its output lines as they come, and Ctrl+C.</summary>
internal sealed class RunningCli : IAsyncDisposable
{
    private readonly Process _process;
    private readonly Channel<string> _lines = Channel.CreateUnbounded<string>();
    private readonly StringBuilder _all = new();
    private readonly Task _stdout;
    private readonly Task<string> _stderr;

    public RunningCli(Process process)
    {
        _process = process;
        _process.StandardInput.Close();
        _stderr = process.StandardError.ReadToEndAsync();
        _stdout = Task.Run(async () =>
        {
            while (await process.StandardOutput.ReadLineAsync() is { } line)
            {
                lock (_all)
                {
                    _all.AppendLine(line);
                }
                await _lines.Writer.WriteAsync(line);
            }
            _lines.Writer.Complete();
        });
    }

    public string Output
    {
        get
        {
            lock (_all)
            {
                return _all.ToString();
            }
        }
    }

    /// <summary>The next output line that matches, skipping others; fails the test when none comes in time.</summary>
    public async Task<string> WaitForLineAsync(Func<string, bool> match, TimeSpan timeout)
    {
        using var cancel = new CancellationTokenSource(timeout);
        try
        {
            while (true)
            {
                var line = await _lines.Reader.ReadAsync(cancel.Token);
                if (match(line))
                {
                    return line;
                }
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or ChannelClosedException)
        {
            Assert.Fail($"No matching line within {timeout} (exited: {_process.HasExited}). Output:\n{Output}\nErrors:\n{(_process.HasExited ? await _stderr : "")}");
            throw;
        }
    }

    /// <summary>Ctrl+C (SIGINT), as a person stops it; returns the exit code.</summary>
    public async Task<int> InterruptAsync(TimeSpan timeout)
    {
        using (var kill = Process.Start(new ProcessStartInfo("kill", ["-INT", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]) { UseShellExecute = false })!)
        {
            await kill.WaitForExitAsync();
        }
        using var cancel = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(cancel.Token);
        }
        catch (OperationCanceledException)
        {
            Assert.Fail($"Still running {timeout} after SIGINT. Output so far:\n{Output}");
        }
        await _stdout;
        return _process.ExitCode;
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }
        _process.Dispose();
    }
}
