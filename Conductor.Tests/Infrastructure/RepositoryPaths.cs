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

    /// <summary>The built AppHost assembly, beside the tests' own output (the test project references it).</summary>
    public static string AppHostAssembly => Path.Combine(AppContext.BaseDirectory, "Conductor.AppHost.dll");
}
