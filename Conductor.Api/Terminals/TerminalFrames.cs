using System.Text.Json;
using Conductor.Api.Rooms;

namespace Conductor.Api.Terminals;

/// <summary>The terminal socket's frames (docs/terminal.md), JSON text frames with a <c>type</c>.</summary>
public static class TerminalFrames
{
    public static string Output(string data) => Serialize(new { type = "output", data });

    public static string Ready(TerminalSession session, bool canWrite, string scrollback) => Serialize(new
    {
        type = "ready",
        terminal_id = session.TerminalId,
        host_user_id = session.HostId,
        can_write = canWrite,
        cols = session.Columns,
        rows = session.Rows,
        scrollback,
    });

    public static string Resized(int cols, int rows) => Serialize(new { type = "resized", cols, rows });

    public static string Writers(IReadOnlyList<Guid> writers) => Serialize(new { type = "writers", user_ids = writers });

    public static string Exit(int code, string reason) => Serialize(new { type = "exit", code, reason });

    public static string Error(string code, string message) => Serialize(new { type = "error", code, message });

    private static string Serialize<T>(T value) => JsonSerializer.Serialize(value, RoomEvent.SerializerOptions);
}
