namespace Conductor.Tests.Infrastructure;

public static class RepositoryPaths
{
    /// <summary>The repository root: the folder holding Conductor.sln, found upwards from the test assembly.</summary>
    public static string Root { get; } = FindRoot();

    private static string FindRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "Conductor.sln")))
            {
                return directory.FullName;
            }
        }
        throw new InvalidOperationException("Conductor.sln not found above " + AppContext.BaseDirectory);
    }

    /// <summary>The AppHost's own build (its output folder holds the runtime config that locates DCP and the dashboard).</summary>
    public static string AppHostAssembly => ServiceInstance.AssemblyPath("Conductor.AppHost");
}
