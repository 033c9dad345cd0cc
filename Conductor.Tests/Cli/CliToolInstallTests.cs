using System.Diagnostics;
using Conductor.Tests.Infrastructure;

namespace Conductor.Tests.Cli;

/// <summary>The CLI is a .NET tool: packed from its build and installed from that local package, it runs.</summary>
public sealed class CliToolInstallTests
{
    [Fact]
    public async Task The_cli_packs_as_a_dotnet_tool_that_installs_from_a_local_package_and_runs()
    {
        var folder = TestDirectories.Create("cli-tool");
        try
        {
            // The configuration the tests were built in (bin/<Configuration>/net10.0/conductor.dll): pack that build.
            var configuration = new DirectoryInfo(Path.GetDirectoryName(ServiceInstance.AssemblyPath("conductor"))!).Parent!.Name;
            var project = Path.Combine(RepositoryPaths.Root, "Conductor.Cli", "Conductor.Cli.csproj");
            var packages = Path.Combine(folder, "packages");
            await RunAsync(folder, "dotnet", "pack", project, "-c", configuration, "--no-build", "-o", packages);
            Assert.Single(Directory.GetFiles(packages, "Conductor.Cli.*.nupkg"));
            var tools = Path.Combine(folder, "tools");
            await RunAsync(folder, "dotnet", "tool", "install", "Conductor.Cli", "--tool-path", tools, "--add-source", packages);
            var help = await RunAsync(folder, Path.Combine(tools, "conductor"), "--help");
            foreach (var command in new[] { "login", "whoami", "logout", "rooms", "up", "join", "chat", "sync", "publish", "status", "diff", "watch", "credential" })
            {
                Assert.Contains($"  {command} ", help, StringComparison.Ordinal);
            }
        }
        finally
        {
            TestDirectories.TryDelete(folder);
        }
    }

    private static async Task<string> RunAsync(string directory, string program, params string[] arguments)
    {
        var start = new ProcessStartInfo(program) { WorkingDirectory = directory, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }
        start.Environment["DOTNET_NOLOGO"] = "1";
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(5));
        await process.WaitForExitAsync(timeout.Token);
        Assert.True(process.ExitCode == 0, $"{program} {string.Join(' ', arguments)} exited {process.ExitCode}: {await stderr}\n{await stdout}");
        return await stdout;
    }
}
