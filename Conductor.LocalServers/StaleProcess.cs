using Microsoft.Extensions.Logging;

namespace Conductor.LocalServers;

/// <summary>
/// A server left running by a run that was killed (SIGKILL gives the AppHost no chance to stop its children).
/// Only called while this process holds the data folder's lock, so a live pid in the folder is an orphan.
/// </summary>
internal static class StaleProcess
{
    public static async Task StopIfRunningAsync(string pidFile, string expectedName, ILogger logger)
    {
        if (!File.Exists(pidFile))
        {
            return;
        }
        var firstLine = File.ReadLines(pidFile).FirstOrDefault()?.Trim();
        if (!int.TryParse(firstLine, out var pid) || pid <= 0 || !NativeMethods.IsAlive(pid) || !NameMatches(pid, expectedName))
        {
            return;
        }
        logger.LogWarning("Stopping {Server} (pid {Pid}) left running by an earlier run", expectedName, pid);
        NativeMethods.TrySignal(pid, expectedName == "postgres" ? NativeMethods.SIGINT : NativeMethods.SIGTERM);
        for (var i = 0; i < 100 && NativeMethods.IsAlive(pid); i++)
        {
            await Task.Delay(100).ConfigureAwait(false);
        }
        if (NativeMethods.IsAlive(pid))
        {
            NativeMethods.TrySignal(pid, 9);
            await Task.Delay(500).ConfigureAwait(false);
        }
    }

    private static bool NameMatches(int pid, string expectedName)
    {
        try
        {
            var commandLine = File.ReadAllText($"/proc/{pid}/cmdline");
            return commandLine.Contains(expectedName, StringComparison.Ordinal);
        }
        catch (IOException)
        {
            return false;
        }
    }
}
