using System.Runtime.InteropServices;

namespace Conductor.Workspaces.Git;

/// <summary>The libc call .NET has no API for: realpath (path safety).</summary>
internal static partial class Native
{
    private const int ENOENT = 2;
    private const int ENOTDIR = 20;

    [LibraryImport("libc", EntryPoint = "realpath", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial nint RealPath(string path, nint resolved);

    [LibraryImport("libc", EntryPoint = "free")]
    private static partial void Free(nint pointer);

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
