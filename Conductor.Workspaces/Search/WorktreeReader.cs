using System.Buffers;
using System.Runtime.InteropServices;
using System.Text;
using Conductor.Workspaces.Git;

namespace Conductor.Workspaces.Search;

/// <summary>
/// Reads files of one worktree for search without following any symlink: each file is opened with
/// <c>openat2(worktree, path, O_NOFOLLOW, RESOLVE_NO_SYMLINKS | RESOLVE_BENEATH)</c>, so neither the file nor any
/// folder on its path may be a symlink (a tracked path whose folder was replaced by a link to <c>/etc</c> is refused),
/// and the check and the open are one system call (no race). Kernels without openat2 (before 5.6, or a seccomp
/// filter refusing it) fall back to <c>realpath</c>, which must give back the path itself, then an
/// <c>O_NOFOLLOW</c> open. One open, a few reads and one close per file: no stat, no per-file allocation.
/// </summary>
internal sealed unsafe partial class WorktreeReader : IDisposable
{
    private const int O_RDONLY = 0;
    private const int O_NONBLOCK = 0x800;     // a FIFO never blocks the open
    private const int O_DIRECTORY = 0x10000;
    private const int O_NOFOLLOW = 0x20000;
    private const int O_CLOEXEC = 0x80000;
    private const ulong RESOLVE_NO_SYMLINKS = 0x04;
    private const ulong RESOLVE_BENEATH = 0x08;
    private const long SYS_openat2 = 437;     // the same number on x86-64 and arm64
    private const int EINTR = 4;
    private const int ENOSYS = 38;
    private const int EPERM = 1;
    private const int EINVAL = 22;
    private const int FileFlags = O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC;

    private static volatile bool s_noOpenAt2;

    private readonly int _directory;
    private readonly string _root;

    [StructLayout(LayoutKind.Sequential)]
    private struct OpenHow
    {
        public ulong Flags;
        public ulong Mode;
        public ulong Resolve;
    }

    [LibraryImport("libc", EntryPoint = "syscall", SetLastError = true)]
    private static partial long SysOpenAt2(long number, int directory, byte* path, OpenHow* how, nuint size);

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true)]
    private static partial int Open(byte* path, int flags);

    [LibraryImport("libc", EntryPoint = "read", SetLastError = true)]
    private static partial nint Read(int fd, byte* buffer, nint count);

    [LibraryImport("libc", EntryPoint = "close")]
    private static partial int Close(int fd);

    // statx (glibc 2.28+): one layout on every architecture, unlike struct stat.
    [LibraryImport("libc", EntryPoint = "statx", SetLastError = true)]
    private static partial int Statx(int directory, byte* path, int flags, uint mask, byte* buffer);

    private const int AT_SYMLINK_NOFOLLOW = 0x100;
    private const uint STATX_TYPE = 0x1;
    private const uint STATX_MTIME = 0x40;
    private const uint STATX_SIZE = 0x200;
    private const int FileTypeMask = 0xF000;
    private const int RegularFile = 0x8000;

    public WorktreeReader(string root)
    {
        // The worktree folder itself is trusted (WorkspacePaths resolved it); symlinks below it are not.
        if (Native.TryRealPath(root, out var real) != Native.RealPathOutcome.Resolved)
        {
            throw new DirectoryNotFoundException($"The worktree {root} does not exist.");
        }
        _root = real;
        var bytes = NulTerminated(real);
        fixed (byte* path = bytes)
        {
            _directory = Open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        }
        if (_directory < 0)
        {
            throw new IOException($"Cannot open the worktree {root} (errno {Marshal.GetLastPInvokeError()}).");
        }
    }

    public static byte[] NulTerminated(string path)
    {
        var bytes = new byte[Encoding.UTF8.GetByteCount(path) + 1];
        Encoding.UTF8.GetBytes(path, bytes);
        return bytes;
    }

    /// <summary>
    /// Reads the file at <paramref name="relativePath"/> (UTF-8, NUL-terminated) into <paramref name="buffer"/>, an
    /// <see cref="ArrayPool{T}.Shared"/> array replaced by a larger one from the pool as needed. Returns the length
    /// read, or -1 when the file is skipped: missing, a symlink or under one, not a regular file, unreadable,
    /// <paramref name="maxBytes"/> or larger, or
    /// binary (a NUL in its first <paramref name="binaryProbe"/> bytes, checked before reading the rest).
    /// </summary>
    public int ReadFile(ReadOnlySpan<byte> relativePath, ref byte[] buffer, int maxBytes, int binaryProbe)
    {
        var fd = OpenBeneath(relativePath);
        if (fd < 0)
        {
            return -1;
        }
        try
        {
            var length = 0;
            var probed = false;
            while (true)
            {
                if (length == buffer.Length)
                {
                    if (buffer.Length >= maxBytes)
                    {
                        return -1;
                    }
                    var larger = ArrayPool<byte>.Shared.Rent((int)Math.Min((long)buffer.Length * 2, maxBytes));
                    buffer.AsSpan(0, length).CopyTo(larger);
                    ArrayPool<byte>.Shared.Return(buffer);
                    buffer = larger;
                }
                nint n;
                fixed (byte* b = buffer)
                {
                    n = Read(fd, b + length, buffer.Length - length);
                }
                if (n < 0)
                {
                    if (Marshal.GetLastPInvokeError() == EINTR)
                    {
                        continue;
                    }
                    return -1; // a directory (EISDIR), an empty FIFO (EAGAIN), an I/O error
                }
                if (n == 0)
                {
                    return (!probed && buffer.AsSpan(0, Math.Min(length, binaryProbe)).Contains((byte)0)) ? -1 : length;
                }
                length += (int)n;
                if (!probed && length >= binaryProbe)
                {
                    probed = true;
                    if (buffer.AsSpan(0, Math.Min(length, binaryProbe)).Contains((byte)0))
                    {
                        return -1;
                    }
                }
            }
        }
        finally
        {
            Close(fd);
        }
    }

    /// <summary>
    /// Size and modification time (100 ns ticks, as <see cref="FileInfo.LastWriteTimeUtc"/> gives them) of the regular
    /// file at <paramref name="relativePath"/> (UTF-8, NUL-terminated) without following a symlink there; (-1, -1) for
    /// anything else. One <c>statx</c>, cheaper than the open, read and close of <see cref="ReadFile"/>.
    /// </summary>
    public (long Size, long Mtime) Stamp(ReadOnlySpan<byte> relativePath)
    {
        var buffer = stackalloc byte[256];
        int result;
        fixed (byte* path = relativePath)
        {
            do
            {
                result = Statx(_directory, path, AT_SYMLINK_NOFOLLOW, STATX_TYPE | STATX_SIZE | STATX_MTIME, buffer);
            }
            while (result < 0 && Marshal.GetLastPInvokeError() == EINTR);
        }
        if (result < 0 || (*(ushort*)(buffer + 28) & FileTypeMask) != RegularFile)
        {
            return (-1, -1);
        }
        // struct statx: stx_mode at 28, stx_size at 40, stx_mtime (tv_sec, tv_nsec) at 112.
        var size = *(long*)(buffer + 40);
        var seconds = *(long*)(buffer + 112);
        var nanoseconds = *(uint*)(buffer + 120);
        return (size, DateTime.UnixEpoch.Ticks + (seconds * TimeSpan.TicksPerSecond) + (nanoseconds / 100));
    }

    private int OpenBeneath(ReadOnlySpan<byte> relativePath)
    {
        fixed (byte* path = relativePath)
        {
            if (!s_noOpenAt2)
            {
                var how = new OpenHow { Flags = FileFlags, Resolve = RESOLVE_NO_SYMLINKS | RESOLVE_BENEATH };
                while (true)
                {
                    var fd = (int)SysOpenAt2(SYS_openat2, _directory, path, &how, (nuint)sizeof(OpenHow));
                    if (fd >= 0)
                    {
                        return fd;
                    }
                    var errno = Marshal.GetLastPInvokeError();
                    if (errno == EINTR)
                    {
                        continue;
                    }
                    if (errno is ENOSYS or EPERM or EINVAL)
                    {
                        s_noOpenAt2 = true; // seccomp or an old kernel: the fallback below from now on
                        break;
                    }
                    return -1;
                }
            }
            // Fallback: the kernel's canonical path must be the path itself (no symlink anywhere on it).
            var relative = Encoding.UTF8.GetString(relativePath[..^1]);
            var full = _root + "/" + relative;
            if (Native.TryRealPath(full, out var resolved) != Native.RealPathOutcome.Resolved || resolved != full)
            {
                return -1;
            }
            var fullBytes = NulTerminated(full);
            fixed (byte* p = fullBytes)
            {
                return Open(p, FileFlags);
            }
        }
    }

    /// <summary>For tests: take the fallback path as on a kernel without openat2.</summary>
    internal static bool ForceFallback
    {
        get => s_noOpenAt2;
        set => s_noOpenAt2 = value;
    }

    public void Dispose() => Close(_directory);
}
