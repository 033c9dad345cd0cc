using System.Diagnostics;
using Microsoft.Extensions.Logging;

namespace Conductor.LocalServers;

/// <summary>
/// Finds the OS binaries of a server and, the way Aspire pulls a missing image, installs them when this process
/// may (Debian or Ubuntu, as root). Otherwise it stops with one line naming the command to run.
/// </summary>
public static class ServerBinaries
{
    private static readonly SemaphoreSlim InstallGate = new(1, 1);

    public static string? Find(string executable, IEnumerable<string>? extraDirectories = null)
    {
        var directories = (extraDirectories ?? [])
            .Concat((Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
            .Concat(["/usr/local/bin", "/usr/bin", "/usr/sbin", "/bin", "/sbin"]);
        return directories.Select(dir => Path.Combine(dir, executable)).FirstOrDefault(File.Exists);
    }

    /// <summary>Finds <paramref name="executable"/>, installing <paramref name="aptPackage"/> first when it is missing.</summary>
    public static async Task<string> EnsureAsync(string executable, string aptPackage, Func<IEnumerable<string>> searchDirectories,
        ILogger logger, CancellationToken cancellationToken)
    {
        var found = Find(executable, searchDirectories());
        if (found is not null)
        {
            return found;
        }

        var aptGet = Find("apt-get");
        if (aptGet is null || !OperatingSystem.IsLinux() || !NativeMethods.IsRoot)
        {
            throw new ProvisioningException(
                $"{executable} is not installed; install it with: sudo apt-get install -y {aptPackage} (or set the connection string to use an existing server).");
        }

        await InstallGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            found = Find(executable, searchDirectories());
            if (found is not null)
            {
                return found;
            }
            logger.LogInformation("{Executable} is not installed; installing the {Package} package with apt-get", executable, aptPackage);
            if (await RunAptAsync(aptGet, ["install", "-y", "--no-install-recommends", aptPackage], logger, cancellationToken).ConfigureAwait(false) != 0)
            {
                // A fresh machine has no package lists yet.
                await RunAptAsync(aptGet, ["update"], logger, cancellationToken).ConfigureAwait(false);
                if (await RunAptAsync(aptGet, ["install", "-y", "--no-install-recommends", aptPackage], logger, cancellationToken).ConfigureAwait(false) != 0)
                {
                    throw new ProvisioningException($"apt-get could not install {aptPackage}; install it by hand: apt-get update && apt-get install -y {aptPackage}");
                }
            }
            return Find(executable, searchDirectories())
                ?? throw new ProvisioningException($"{aptPackage} was installed but {executable} was not found; check the package.");
        }
        finally
        {
            InstallGate.Release();
        }
    }

    private static async Task<int> RunAptAsync(string aptGet, string[] arguments, ILogger logger, CancellationToken cancellationToken)
    {
        var (exitCode, output) = await RunAsync(aptGet, arguments, cancellationToken,
            new Dictionary<string, string> { ["DEBIAN_FRONTEND"] = "noninteractive" }).ConfigureAwait(false);
        if (exitCode != 0)
        {
            logger.LogWarning("apt-get {Arguments} exited with {ExitCode}: {Output}", string.Join(' ', arguments), exitCode, output.Trim());
        }
        return exitCode;
    }

    /// <summary>Runs a short command to completion and returns its exit code and combined output.</summary>
    internal static async Task<(int ExitCode, string Output)> RunAsync(string fileName, IEnumerable<string> arguments,
        CancellationToken cancellationToken, IReadOnlyDictionary<string, string>? environment = null)
    {
        var startInfo = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            startInfo.ArgumentList.Add(argument);
        }
        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
        {
            startInfo.Environment[name] = value;
        }
        using var process = Process.Start(startInfo) ?? throw new ProvisioningException($"{fileName} could not be started.");
        var output = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var error = process.StandardError.ReadToEndAsync(cancellationToken);
        await process.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
        return (process.ExitCode, (await output.ConfigureAwait(false)) + (await error.ConfigureAwait(false)));
    }
}
