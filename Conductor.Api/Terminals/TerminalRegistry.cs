using System.Collections.Concurrent;
using Conductor.Api.Rooms;
using Conductor.Api.Sandbox;

namespace Conductor.Api.Terminals;

/// <summary>
/// The terminals running on this Api instance. A PTY lives on one machine, so a terminal is reachable through the
/// instance that opened it; the others learn where it is from its lease (<see cref="TerminalLocator"/>) and relay
/// their members' sockets to it (<see cref="TerminalRelay"/>, docs/terminal.md).
/// </summary>
public sealed partial class TerminalRegistry(SandboxLauncher sandbox, RoomEventPublisher events, TerminalLocator locator, TimeProvider time,
    ILogger<TerminalRegistry> logger) : IDisposable
{
    /// <summary>Terminals a room may have open at once.</summary>
    public const int MaxPerRoom = 4;

    private readonly ConcurrentDictionary<(Guid RoomId, string TerminalId), TerminalSession> _sessions = new();
    private readonly Lock _openLock = new();

    public TerminalSession? Find(Guid roomId, string terminalId) => _sessions.GetValueOrDefault((roomId, terminalId));

    /// <summary>The terminals open here (for renewing their leases).</summary>
    public IReadOnlyList<(Guid RoomId, string TerminalId)> OpenTerminals() => [.. _sessions.Keys];

    /// <summary>Opens a terminal, or null when the room already has <see cref="MaxPerRoom"/>.</summary>
    public TerminalSession? Open(Guid roomId, string terminalId, Guid hostId, string worktree, bool network, int columns, int rows)
    {
        TerminalSession session;
        lock (_openLock)
        {
            if (_sessions.TryGetValue((roomId, terminalId), out var existing))
            {
                return existing;
            }
            if (_sessions.Keys.Count(k => k.RoomId == roomId) >= MaxPerRoom)
            {
                return null;
            }
            sandbox.PrepareWorktree(worktree);
            session = TerminalSession.Start(roomId, terminalId, hostId, sandbox, worktree, network, columns, rows, logger);
            _sessions[(roomId, terminalId)] = session;
        }
        LogOpened(logger, terminalId, roomId);
        _ = events.PublishAsync(roomId, "terminal_opened", new { type = "terminal_opened", room_id = roomId, terminal_id = terminalId, user_id = hostId, at = time.GetUtcNow() },
            CancellationToken.None);
        _ = session.Exited.ContinueWith(async exited =>
        {
            _sessions.TryRemove((roomId, terminalId), out _);
            await locator.ReleaseAsync(roomId, terminalId);
            var code = exited.Result;
            session.EndViewers(TerminalFrames.Exit(code, "the shell exited"));
            await events.PublishAsync(roomId, "terminal_closed", new { type = "terminal_closed", room_id = roomId, terminal_id = terminalId, exit_code = code, at = time.GetUtcNow() },
                CancellationToken.None);
            LogClosed(logger, terminalId, roomId, code);
            session.Dispose();
        }, CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default).Unwrap();
        return session;
    }

    public void Dispose()
    {
        foreach (var session in _sessions.Values)
        {
            session.Kill();
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Terminal {TerminalId} opened in room {RoomId}")]
    private static partial void LogOpened(ILogger logger, string terminalId, Guid roomId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Terminal {TerminalId} in room {RoomId} ended (exit {ExitCode})")]
    private static partial void LogClosed(ILogger logger, string terminalId, Guid roomId, int exitCode);
}
