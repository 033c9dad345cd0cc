using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Conductor.Api.Sandbox;
using Conductor.Tests.Infrastructure;
using Microsoft.Extensions.Options;

namespace Conductor.Tests.Commands;

/// <summary>
/// The sandbox as an Api that does not run as root builds it (a developer running the AppHost as themselves): the
/// launcher's real bwrap command line, started by a host user that is not root, proves each property from inside.
/// <c>CommandsTests</c> proves the same properties through a real Api running as root.
/// </summary>
public sealed class SandboxUserNamespaceTests
{
    /// <summary>A host user with no name and no privilege: the Api's user in this test.</summary>
    private const int ApiUser = 4242;

    [Fact]
    public async Task An_api_that_is_not_root_runs_commands_as_the_sandbox_user_with_only_its_worktree_writable_and_git_kept()
    {
        var folder = TestDirectories.Create("sandbox-userns");
        try
        {
            var worktree = Path.Combine(folder, "worktree");
            Directory.CreateDirectory(worktree);
            await File.WriteAllTextAsync(Path.Combine(worktree, ".git"), "gitdir: /stores/room/worktrees/x\n");
            await File.WriteAllTextAsync(Path.Combine(worktree, "readme.md"), "hello\n");
            var outside = Path.Combine(folder, "outside.txt");
            await File.WriteAllTextAsync(outside, "the Api user's own file, outside the worktree\n");
            await RunCheckedAsync("chown", ["-R", $"{ApiUser}:{ApiUser}", folder]);
            // The Api user must reach its worktree whatever umask made the tests' temp folder.
            File.SetUnixFileMode(Path.GetDirectoryName(folder)!, (UnixFileMode)0b111_101_101);
            using var listener = new TcpListener(IPAddress.Loopback, 0);
            listener.Start();
            var port = ((IPEndPoint)listener.LocalEndpoint).Port;

            var launcher = new SandboxLauncher(Options.Create(new SandboxOptions { UserNamespace = true }));
            Assert.True(launcher.UsesUserNamespace);
            launcher.PrepareWorktree(worktree); // nothing to hand over: the worktree stays the Api user's
            var probe = $$"""
                echo "uid=$(id -u)"
                echo "pid=$$"
                echo "processes=$(ls -d /proc/[0-9]* | wc -l)"
                echo "made" > /workspace/made-by-command && echo "worktree_write=ok" || echo "worktree_write=denied"
                cat /workspace/readme.md >/dev/null && echo "worktree_read=ok" || echo "worktree_read=denied"
                touch /usr/escape 2>/dev/null && echo "usr_write=ok" || echo "usr_write=denied"
                echo "gitdir: /tmp/evil" 2>/dev/null > /workspace/.git && echo "git_write=ok" || echo "git_write=denied"
                rm -f /workspace/.git 2>/dev/null; mv /workspace/.git /workspace/moved 2>/dev/null
                test -e /workspace/.git && echo "git_link=kept" || echo "git_link=removed"
                test -e '{{outside}}' && echo "outside=visible" || echo "outside=absent"
                test -e '{{RepositoryPaths.Root}}' && echo "repository=visible" || echo "repository=absent"
                (exec 3<>/dev/tcp/127.0.0.1/{{port}}) 2>/dev/null && echo "loopback=reachable" || echo "loopback=unreachable"
                echo "nproc=$(ulimit -u)"
                echo "hostname=$(cat /proc/sys/kernel/hostname)"
                echo "$(grep CapEff /proc/self/status | tr -d '\t')"
                echo "$(grep CapBnd /proc/self/status | tr -d '\t')"
                echo "$(grep NoNewPrivs /proc/self/status | tr -d '\t')"
                """;
            var sandboxed = launcher.CreateStartInfo(new SandboxSpec(worktree, ["/bin/bash", "-c", probe], Network: false, MergeStderr: true));
            // The launcher's own command line, started by a user that is not root (as an Api running as that user does).
            var (exitCode, output) = await RunAsync("setpriv",
                [$"--reuid={ApiUser}", $"--regid={ApiUser}", "--clear-groups", "--", sandboxed.FileName, .. sandboxed.ArgumentList]);
            Assert.True(exitCode == 0, $"the sandbox failed ({exitCode}):\n{output}");
            var facts = output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(l => l.Contains('=', StringComparison.Ordinal))
                .Select(l => l.Split('=', 2)).ToDictionary(p => p[0], p => p[1]);

            Assert.Equal("65534", facts["uid"]);
            Assert.True(int.Parse(facts["pid"], CultureInfo.InvariantCulture) < 10, "own PID namespace: " + facts["pid"]);
            Assert.True(int.Parse(facts["processes"], CultureInfo.InvariantCulture) < 10, "sees only its own processes: " + facts["processes"]);
            Assert.Equal("ok", facts["worktree_write"]);
            Assert.Equal("ok", facts["worktree_read"]);
            Assert.Equal("denied", facts["usr_write"]);
            Assert.Equal("denied", facts["git_write"]);
            Assert.Equal("kept", facts["git_link"]);
            Assert.Equal("absent", facts["outside"]);
            Assert.Equal("absent", facts["repository"]);
            Assert.Equal("unreachable", facts["loopback"]);
            Assert.Equal("1024", facts["nproc"]);
            Assert.Equal("conductor-sandbox", facts["hostname"]);
            Assert.Contains("CapEff:0000000000000000", output, StringComparison.Ordinal);
            Assert.Contains("CapBnd:0000000000000000", output, StringComparison.Ordinal);
            Assert.Contains("NoNewPrivs:1", output, StringComparison.Ordinal);

            // On the host the command's file is the Api user's (what the Api and the GitWorker then read and commit),
            // and the link to the room's repository is as it was.
            var made = new FileInfo(Path.Combine(worktree, "made-by-command"));
            Assert.True(made.Exists);
            Assert.Equal(ApiUser.ToString(CultureInfo.InvariantCulture), (await RunCheckedAsync("stat", ["-c", "%u", made.FullName])).Trim());
            Assert.Equal("gitdir: /stores/room/worktrees/x\n", await File.ReadAllTextAsync(Path.Combine(worktree, ".git")));
            Assert.False(File.Exists(Path.Combine(worktree, "moved")));
        }
        finally
        {
            TestDirectories.TryDelete(folder);
        }
    }

    [Fact]
    public void An_api_running_as_root_builds_the_sandbox_without_a_user_namespace_unless_told_to()
    {
        Assert.Equal(0u, GetEuid()); // the tests run as root, as CI does
        var asRoot = new SandboxLauncher(Options.Create(new SandboxOptions()));
        Assert.False(asRoot.UsesUserNamespace);
        var arguments = asRoot.BuildArguments(new SandboxSpec("/srv/worktree", ["true"], Network: false, MergeStderr: false));
        Assert.DoesNotContain("--unshare-user", arguments);
        Assert.Contains("--reuid=65534", arguments);

        var inNamespace = new SandboxLauncher(Options.Create(new SandboxOptions { UserNamespace = true }))
            .BuildArguments(new SandboxSpec("/srv/worktree", ["true"], Network: false, MergeStderr: false));
        Assert.Contains("--unshare-user", inNamespace);
        Assert.DoesNotContain("--reuid=65534", inNamespace);
        Assert.Contains("--no-new-privs", inNamespace);
    }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "geteuid")]
    private static extern uint GetEuid();

    private static async Task<string> RunCheckedAsync(string fileName, string[] arguments)
    {
        var (exitCode, output) = await RunAsync(fileName, arguments);
        Assert.True(exitCode == 0, $"{fileName} {string.Join(' ', arguments)} failed ({exitCode}):\n{output}");
        return output;
    }

    private static async Task<(int ExitCode, string Output)> RunAsync(string fileName, IEnumerable<string> arguments)
    {
        var start = new ProcessStartInfo(fileName) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, await output + await errors);
    }
}
