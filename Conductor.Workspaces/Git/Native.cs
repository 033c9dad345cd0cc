using System.Runtime.InteropServices;

namespace Conductor.Workspaces.Git;

/// <summary>The few libc calls .NET has no API for: FIFOs (askpass) and realpath (path safety).</summary>
internal static partial class Native
{
    private const int ENOENT = 2;
    private const int ENOTDIR = 20;
    private const int O_RDONLY = 0;
    private const int O_NONBLOCK = 0x800; // Linux

    [LibraryImport("libc", EntryPoint = "mkfifo", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int MkFifo(string path, uint mode);

    [LibraryImport("libc", EntryPoint = "realpath", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial nint RealPath(string path, nint resolved);

    [LibraryImport("libc", EntryPoint = "free")]
    private static partial void Free(nint pointer);

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "close")]
    private static partial int Close(int fd);

    public static void CreateFifo(string path, UnixFileMode mode)
    {
        if (MkFifo(path, (uint)mode) != 0)
        {
            throw new IOException($"mkfifo failed with errno {Marshal.GetLastPInvokeError()}.");
        }
    }

    /// <summary>
    /// Opens and at once closes the read end of a FIFO without blocking: a writer blocked in open() is released
    /// (its write then goes into a pipe nobody reads, and is discarded with it).
    /// </summary>
    public static void ReleaseFifoWriter(string path)
    {
        var fd = Open(path, O_RDONLY | O_NONBLOCK);
        if (fd >= 0)
        {
            Close(fd);
        }
    }

    public enum RealPathOutcome { Resolved, Missing, NotADirectory, Failed }

    /// <summary>The canonical path (every symlink followed, no <c>.</c> or <c>..</c>), as the kernel sees it.</summary>
    public static RealPathOutcome TryRealPath(string path, out string resolved)
    {
        var pointer = RealPath(path, 0);
        if (pointer == 0)
        {
            resolved = "";
            return Marshal.GetLastPInvokeError() switch
            {
                ENOENT => RealPathOutcome.Missing,
                ENOTDIR => RealPathOutcome.NotADirectory,
                _ => RealPathOutcome.Failed,
            };
        }
        try
        {
            resolved = Marshal.PtrToStringUTF8(pointer)!;
            return RealPathOutcome.Resolved;
        }
        finally
        {
            Free(pointer);
        }
    }
}
