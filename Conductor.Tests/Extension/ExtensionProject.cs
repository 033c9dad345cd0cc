using Conductor.Tests.Infrastructure;

namespace Conductor.Tests.Extension;

/// <summary>
/// The VS Code extension in <c>extension/</c> as the tests use it: installs its npm packages (npm ci) once per checkout,
/// packages the .vsix, installs code-server through <c>extension/scripts/install-code-server.sh</c> (idempotent) and
/// runs its npm test scripts with the servers' addresses in the environment, all through <see cref="NodeProject"/>.
/// </summary>
internal static class ExtensionProject
{
    private static readonly SemaphoreSlim Lock = new(1, 1);
    private static bool s_prepared;

    public static string Directory { get; } = Path.Combine(RepositoryPaths.Root, "extension");
    public static string Vsix => Path.Combine(Directory, "conductor.vsix");
    public static string CodeServer => Path.Combine(Directory, ".code-server", "node_modules", ".bin", "code-server");

    private static readonly NodeProject Project = new(Directory, ".package-lock.json");

    /// <summary>npm ci (when node_modules is missing), npm run package, and code-server; fails with the tool's output.</summary>
    public static async Task PrepareAsync(bool codeServer)
    {
        await Lock.WaitAsync();
        try
        {
            await Project.EnsureInstalledAsync(TimeSpan.FromMinutes(5));
            if (!s_prepared)
            {
                await ExpectSuccessAsync("npm", ["run", "package"], TimeSpan.FromMinutes(3));
                s_prepared = true;
            }
            if (codeServer)
            {
                await ExpectSuccessAsync("bash", ["scripts/install-code-server.sh"], TimeSpan.FromMinutes(15));
            }
        }
        finally
        {
            Lock.Release();
        }
    }

    /// <summary>Runs a tool in <c>extension/</c>: its exit code (-1 when it outlived <paramref name="timeout"/>) and its output.</summary>
    public static Task<(int ExitCode, string Output)> RunAsync(string fileName, IEnumerable<string> arguments, TimeSpan timeout,
        IReadOnlyDictionary<string, string> environment) => Project.RunLoggedAsync(fileName, arguments, timeout, environment);

    private static async Task ExpectSuccessAsync(string fileName, string[] arguments, TimeSpan timeout)
    {
        var (exitCode, output) = await Project.RunLoggedAsync(fileName, arguments, timeout);
        Assert.True(exitCode == 0, $"{fileName} {string.Join(' ', arguments)} failed in {Directory} ({exitCode}):\n{output}");
    }
}
