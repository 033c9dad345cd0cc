using System.Runtime.InteropServices;
using System.Text;
using Conductor.Api.Sandbox;
using Microsoft.Win32.SafeHandles;

namespace Conductor.Api.Terminals;

/// <summary>
/// A pseudo-terminal opened through libc (posix_openpt, grantpt, unlockpt, ptsname_r): hand-written because no PTY
/// package is served here (docs/terminal.md). The Api keeps only the master side; the shell opens the slave by its
/// path in a new session (see <see cref="TerminalSession"/>), so the .NET process itself never forks or holds it.
/// </summary>
public sealed class Pty : IDisposable
{
    private readonly SafeFileHandle _master;
    private readonly Lock _writeLock = new();
    // Unbuffered streams over the master (RandomAccess refuses unseekable handles); one each way, so the reading
    // thread and the writers share no stream state.
    private readonly FileStream _reader;
    private readonly FileStream _writer;

    private Pty(SafeFileHandle master, string slavePath)
    {
        _master = master;
        SlavePath = slavePath;
        _reader = new FileStream(master, FileAccess.Read, bufferSize: 0);
        _writer = new FileStream(master, FileAccess.Write, bufferSize: 0);
    }

    /// <summary>The slave's path (<c>/dev/pts/N</c>), for the shell to open as its controlling terminal.</summary>
    public string SlavePath { get; }

    public static Pty Open(int columns, int rows)
    {
        if (!OperatingSystem.IsLinux())
        {
            throw new PlatformNotSupportedException("Terminals need Linux.");
        }
        // O_CLOEXEC: no process started later (a command's sandbox) inherits the master.
        var fd = LibC.PosixOpenPt(LibC.O_RDWR | LibC.O_NOCTTY | LibC.O_CLOEXEC);
        if (fd < 0)
        {
            throw new IOException($"posix_openpt failed (errno {Marshal.GetLastPInvokeError()}).");
        }
        var master = new SafeFileHandle(fd, ownsHandle: true);
        try
        {
            if (LibC.GrantPt(fd) != 0 || LibC.UnlockPt(fd) != 0)
            {
                throw new IOException($"grantpt/unlockpt failed (errno {Marshal.GetLastPInvokeError()}).");
            }
            var name = new byte[128];
            var error = LibC.PtsNameR(fd, name, (nuint)name.Length);
            if (error != 0)
            {
                throw new IOException($"ptsname_r failed (errno {error}).");
            }
            var pty = new Pty(master, Encoding.ASCII.GetString(name, 0, Array.IndexOf(name, (byte)0)));
            pty.Resize(columns, rows);
            return pty;
        }
        catch
        {
            master.Dispose();
            throw;
        }
    }

    /// <summary>TIOCSWINSZ on the master: the kernel tells the shell's foreground job with SIGWINCH.</summary>
    public void Resize(int columns, int rows)
    {
        var size = new LibC.WinSize { Columns = (ushort)columns, Rows = (ushort)rows };
        if (LibC.IoctlWinSize((int)_master.DangerousGetHandle(), LibC.TIOCSWINSZ, ref size) != 0)
        {
            throw new IOException($"TIOCSWINSZ failed (errno {Marshal.GetLastPInvokeError()}).");
        }
    }

    /// <summary>Blocks until output arrives; 0 once every slave holder has gone (the shell exited).</summary>
    public int Read(Span<byte> buffer)
    {
        try
        {
            return _reader.Read(buffer);
        }
        catch (Exception exception) when (exception is IOException or ObjectDisposedException)
        {
            return 0; // EIO: the slave side is closed (or the terminal was disposed)
        }
    }

    public void Write(ReadOnlySpan<byte> data)
    {
        lock (_writeLock)
        {
            _writer.Write(data);
        }
    }

    public void Dispose()
    {
        _reader.Dispose();
        _writer.Dispose();
        _master.Dispose();
    }
}
