using System.Globalization;

/// <summary>
/// CPU time of a process and its children, read from /proc (Postgres runs a backend process per connection under
/// its postmaster). Zero where /proc does not exist.
/// </summary>
internal static class ProcessTreeCpu
{
    private const double TicksPerSecond = 100; // USER_HZ on Linux

    public static TimeSpan Read(IEnumerable<int> roots)
    {
        var stats = new List<(int Pid, int Parent, long Ticks)>();
        foreach (var directory in Directory.Exists("/proc") ? Directory.EnumerateDirectories("/proc") : [])
        {
            if (!int.TryParse(Path.GetFileName(directory), NumberStyles.None, CultureInfo.InvariantCulture, out var pid))
            {
                continue;
            }
            try
            {
                var text = File.ReadAllText(Path.Combine(directory, "stat"));
                // pid (comm) state ppid ... utime(14) stime(15); comm may hold spaces, so split after its ')'.
                var fields = text[(text.LastIndexOf(')') + 2)..].Split(' ');
                stats.Add((pid, int.Parse(fields[1], CultureInfo.InvariantCulture),
                    long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture)));
            }
            catch (Exception exception) when (exception is IOException or UnauthorizedAccessException or FormatException or ArgumentOutOfRangeException)
            {
            }
        }
        var tree = new HashSet<int>(roots);
        for (var grew = true; grew;)
        {
            grew = false;
            foreach (var (pid, parent, _) in stats)
            {
                if (tree.Contains(parent) && tree.Add(pid))
                {
                    grew = true;
                }
            }
        }
        return TimeSpan.FromSeconds(stats.Where(s => tree.Contains(s.Pid)).Sum(s => s.Ticks) / TicksPerSecond);
    }
}
