using Conductor.LocalServers;

namespace Conductor.AppHost;

/// <summary>
/// The run's data folder (servers' data, secrets, workspaces) and its lock, held from start-up until the AppHost
/// is disposed (the container disposes this singleton), so two runs never share a Postgres cluster.
/// </summary>
public sealed class DataFolder(string path) : IDisposable
{
    private DataFolderLock? _lock;

    public string Path { get; } = path;

    /// <exception cref="ProvisioningException">Another run holds the folder.</exception>
    public void Lock() => _lock ??= DataFolderLock.Acquire(Path);

    public void Dispose() => _lock?.Dispose();
}
