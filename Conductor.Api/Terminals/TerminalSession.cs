using System.Diagnostics;
using System.Text;
using Conductor.Api.Sandbox;

namespace Conductor.Api.Terminals;

/// <summary>
/// A shared terminal: bash in the room's sandbox on a PTY, its output fanned out to every viewer and kept as
/// scrollback for late joiners, input taken from the host and the members the host granted. It ends when the shell
/// exits or the host closes it (the sandbox's process tree is killed).
/// </summary>
public sealed partial class TerminalSession : IDisposable
{
    /// <summary>Characters of output kept for viewers who join later.</summary>
    public const int ScrollbackChars = 256 * 1024;

    private readonly Pty _pty;
    private readonly Process _process;
    private readonly Lock _lock = new();
    private readonly StringBuilder _scrollback = new();
    private readonly List<TerminalViewer> _viewers = [];
    private readonly HashSet<Guid> _writers = [];
    private readonly TaskCompletionSource<int> _exited = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private readonly ILogger _logger;

    private TerminalSession(Guid roomId, string terminalId, Guid hostId, Pty pty, Process process, int columns, int rows, ILogger logger)
    {
        _logger = logger;
        RoomId = roomId;
        TerminalId = terminalId;
        HostId = hostId;
        _pty = pty;
        _process = process;
        Columns = columns;
        Rows = rows;
    }

    public Guid RoomId { get; }
    public string TerminalId { get; }
    /// <summary>Who opened it (the room's host at the time): always a writer, the only one who grants and closes.</summary>
    public Guid HostId { get; }
    public int Columns { get; private set; }
    public int Rows { get; private set; }
    public Task<int> Exited => _exited.Task;

    /// <summary>
    /// Opens the PTY and starts bash in the sandbox on its slave side. Spawned with Process (the .NET process does
    /// not fork itself): setsid gives the shell a new session, and sh opens the slave by its path as stdin, stdout
    /// and stderr, which makes it the session's controlling terminal, then execs bwrap (argv only, never a string
    /// built from input: the slave path and the sandbox argv are positional parameters).
    /// </summary>
    public static TerminalSession Start(Guid roomId, string terminalId, Guid hostId, SandboxLauncher sandbox, string worktree, bool network, int columns, int rows,
        ILogger logger)
    {
        var pty = Pty.Open(columns, rows);
        try
        {
            var options = sandbox.Options;
            var info = new ProcessStartInfo(options.SetsidPath) { UseShellExecute = false, WorkingDirectory = "/" };
            foreach (var argument in new[] { "--wait", "/bin/sh", "-c", "tty=$1; shift; exec \"$@\" <\"$tty\" >\"$tty\" 2>&1", "sh", pty.SlavePath, options.BwrapPath })
            {
                info.ArgumentList.Add(argument);
            }
            var environment = new Dictionary<string, string>
            {
                ["TERM"] = "xterm-256color",
                ["PS1"] = "\\w$ ",
            };
            foreach (var argument in sandbox.BuildArguments(new SandboxSpec(worktree, ["/bin/bash", "--noprofile", "--norc", "-i"], network, MergeStderr: false, environment)))
            {
                info.ArgumentList.Add(argument);
            }
            info.Environment.Clear();
            info.Environment["PATH"] = SandboxLauncher.SearchPath;
            var process = Process.Start(info) ?? throw new IOException("The terminal's shell did not start.");
            var session = new TerminalSession(roomId, terminalId, hostId, pty, process, columns, rows, logger);
            session._writers.Add(hostId);
            _ = Task.Factory.StartNew(session.ReadLoop, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
            return session;
        }
        catch
        {
            pty.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Adds a viewer whose first frame is <paramref name="firstFrame"/> of the scrollback so far: under the output's
    /// lock, so no output is missed or doubled between the scrollback and the live frames.
    /// </summary>
    public void Join(TerminalViewer viewer, Func<string, string> firstFrame)
    {
        lock (_lock)
        {
            viewer.Enqueue(firstFrame(_scrollback.ToString()));
            _viewers.Add(viewer);
        }
    }

    /// <summary>Every viewer's queue ends (after the frames already in it): the shell has gone.</summary>
    public void EndViewers(string lastFrame)
    {
        TerminalViewer[] viewers;
        lock (_lock)
        {
            viewers = [.. _viewers];
            _viewers.Clear();
        }
        foreach (var viewer in viewers)
        {
            viewer.Enqueue(lastFrame);
            viewer.Complete();
        }
    }

    public void Leave(TerminalViewer viewer)
    {
        lock (_lock)
        {
            _viewers.Remove(viewer);
        }
        viewer.Complete();
    }

    public bool CanWrite(Guid userId)
    {
        lock (_lock)
        {
            return _writers.Contains(userId);
        }
    }

    public IReadOnlyList<Guid> Writers()
    {
        lock (_lock)
        {
            return [.. _writers];
        }
    }

    public void Grant(Guid userId, bool write)
    {
        lock (_lock)
        {
            if (write)
            {
                _writers.Add(userId);
            }
            else if (userId != HostId)
            {
                _writers.Remove(userId);
            }
        }
    }

    public void Input(string text) => _pty.Write(Encoding.UTF8.GetBytes(text));

    public void Resize(int columns, int rows)
    {
        _pty.Resize(columns, rows);
        Columns = columns;
        Rows = rows;
    }

    /// <summary>Sends a frame to every viewer; one too far behind is dropped rather than holding the others up.</summary>
    public void Broadcast(string frame)
    {
        TerminalViewer[] viewers;
        lock (_lock)
        {
            viewers = [.. _viewers];
        }
        foreach (var viewer in viewers)
        {
            if (!viewer.Enqueue(frame))
            {
                Leave(viewer);
                viewer.Dropped();
            }
        }
    }

    /// <summary>The host closed it: the whole sandbox goes (its PID namespace dies with its first process).</summary>
    public void Kill()
    {
        try
        {
            _process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            // already gone
        }
    }

    private void ReadLoop()
    {
        var exitCode = -1;
        try
        {
            Pump();
            LogShellGone(_logger, TerminalId, RoomId);
            if (!_process.WaitForExit(TimeSpan.FromSeconds(5)))
            {
                Kill();
                _process.WaitForExit();
            }
            exitCode = _process.ExitCode;
        }
        catch (Exception exception)
        {
            LogReadFailed(_logger, exception, TerminalId, RoomId);
            Kill();
        }
        finally
        {
            _exited.TrySetResult(exitCode);
        }
    }

    private void Pump()
    {
        var decoder = new UTF8Encoding(false).GetDecoder();
        var buffer = new byte[16 * 1024];
        var chars = new char[16 * 1024 + 4];
        int read;
        while ((read = _pty.Read(buffer)) > 0)
        {
            var count = decoder.GetChars(buffer, 0, read, chars, 0, flush: false);
            if (count == 0)
            {
                continue;
            }
            var text = new string(chars, 0, count);
            lock (_lock)
            {
                _scrollback.Append(text);
                if (_scrollback.Length > ScrollbackChars)
                {
                    _scrollback.Remove(0, _scrollback.Length - ScrollbackChars);
                }
                var frame = TerminalFrames.Output(text);
                foreach (var viewer in _viewers.ToArray())
                {
                    if (!viewer.Enqueue(frame))
                    {
                        _viewers.Remove(viewer);
                        viewer.Complete();
                    }
                }
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Terminal {TerminalId} in room {RoomId}: the PTY closed")]
    private static partial void LogShellGone(ILogger logger, string terminalId, Guid roomId);

    [LoggerMessage(Level = LogLevel.Error, Message = "Terminal {TerminalId} in room {RoomId} failed")]
    private static partial void LogReadFailed(ILogger logger, Exception exception, string terminalId, Guid roomId);

    public void Dispose()
    {
        Kill();
        _process.Dispose();
        _pty.Dispose();
    }
}
