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
            stream.SetLength(0);
            using (var writer = new StreamWriter(stream, leaveOpen: true))
            {
                writer.Write(Environment.ProcessId);
            }
            stream.Flush();
            return new DataFolderLock(stream);
        }
        catch (IOException)
        {
            var holder = "";
            try
            {
                using var reader = new FileStream(lockPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
                holder = new StreamReader(reader).ReadToEnd().Trim();
            }
            catch (IOException)
            {
            }
            throw new ProvisioningException(
                $"Conductor is already running with the data folder {dataDirectory}{(holder.Length > 0 ? $" (pid {holder})" : "")}; stop it first (Ctrl+C in its terminal).");
        }
    }

    public void Dispose() => _stream.Dispose();
}
