namespace Conductor.Tests.Infrastructure;

/// <summary>Throwaway folders under /tmp (the postgres OS user can reach them, unlike a home folder).</summary>
public static class TestDirectories
{
    public static string Create(string purpose)
    {
        var path = Path.Combine(Path.GetTempPath(), "conductor-tests", $"{purpose}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(path);
        return path;
    }

    public static void TryDelete(string path)
    {
        try
        {
            if (Directory.Exists(path))
            {
                Directory.Delete(path, recursive: true);
            }
        }
        catch (IOException)
        {
            // A server may still be flushing; the folder is under /tmp and harmless.
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
