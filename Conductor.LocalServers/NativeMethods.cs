using System.Runtime.InteropServices;

namespace Conductor.LocalServers;

internal static partial class NativeMethods
{
    public const int SIGTERM = 15;
    public const int SIGINT = 2;

    [LibraryImport("libc", SetLastError = true)]
    private static partial int kill(int pid, int signal);

    [LibraryImport("libc")]
    private static partial uint geteuid();

    public static bool IsRoot => OperatingSystem.IsLinux() || OperatingSystem.IsMacOS() ? geteuid() == 0 : false;

    /// <summary>Sends a signal; false when the process no longer exists.</summary>
    public static bool TrySignal(int pid, int signal) =>
        (OperatingSystem.IsLinux() || OperatingSystem.IsMacOS()) && kill(pid, signal) == 0;

    public static bool IsAlive(int pid) => TrySignal(pid, 0);
}
