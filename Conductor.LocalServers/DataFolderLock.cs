namespace Conductor.LocalServers;

/// <summary>
/// An exclusive lock on a data folder (<c>apphost.lock</c>), held while its servers run, so that a second run
/// against the same folder stops with a clear message instead of starting a second postmaster on the same cluster.
/// </summary>
public sealed class DataFolderLock : IDisposable
{
    private readonly FileStream _stream;

    private DataFolderLock(FileStream stream) => _stream = stream;

    /// <exception cref="ProvisioningException">Another process holds the folder.</exception>
    public static DataFolderLock Acquire(string dataDirectory)
    {
        Directory.CreateDirectory(dataDirectory);
        var lockPath = Path.Combine(dataDirectory, "apphost.lock");
        try
        {
            // FileShare.None takes an exclusive flock on Unix: a second holder fails here, and the kernel drops the
            // lock when its holder dies, so a killed run never leaves the folder locked.
            var stream = new FileStream(lockPath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            // Beside the lock, not in it: nobody else can open a file we hold exclusively, not even to read.
            File.WriteAllText(HolderPath(dataDirectory), Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture));
            return new DataFolderLock(stream);
        }
        catch (IOException)
        {
            var holder = "";
            try
            {
                holder = File.ReadAllText(HolderPath(dataDirectory)).Trim();
            }
            catch (IOException)
            {
                // Written just after the lock is taken: a run that is only starting may not have written it yet.
            }
            throw new ProvisioningException(
                $"Conductor is already running with the data folder {dataDirectory}{(holder.Length > 0 ? $" (pid {holder})" : "")}; stop it first (Ctrl+C in its terminal).");
        }
    }

    private static string HolderPath(string dataDirectory) => Path.Combine(dataDirectory, "apphost.pid");

    public void Dispose() => _stream.Dispose();
}
