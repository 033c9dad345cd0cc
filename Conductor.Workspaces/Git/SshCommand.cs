using System.Security.Cryptography;
using System.Text;

namespace Conductor.Workspaces.Git;

/// <summary>
/// What libgit2 runs for SSH remotes. LibGit2Sharp 0.32's native library (libgit2 built with the OpenSSH "exec"
/// backend) does not speak SSH itself: it starts the program named by the store's <c>core.sshCommand</c> with
/// <c>-p port</c>, <c>user@host</c> and the remote git command as arguments. It runs that setting as one program path
/// (measured: a command line with options fails as "cannot run ssh -F …: No such file or directory"), and its
/// credentials callback is never asked. So the options go into a small wrapper script that Conductor writes under
/// <c>tmp/ssh/</c> (no secret in it: the key is the deployment's file, named by path only) and that execs the system
/// ssh with the deployment's key and known_hosts and nothing of the machine's own SSH set-up (user config, agent,
/// other keys, prompts).
/// </summary>
public static class SshCommand
{
    private static readonly Lock Gate = new();

    /// <summary>The ssh command line the wrapper runs, or null when SSH is not configured.</summary>
    public static string? CommandLine(WorkspaceOptions options) =>
        !options.SshEnabled
            ? null
            : string.Join(' ',
                Quote(options.SshPath),
                "-F /dev/null",                      // no ~/.ssh/config or /etc/ssh/ssh_config
                "-o BatchMode=yes",                  // never a prompt (passphrase, password, unknown host)
                "-o IdentitiesOnly=yes",
                "-o IdentityAgent=none",
                "-o StrictHostKeyChecking=yes",
                $"-o UserKnownHostsFile={Quote(options.SshKnownHostsPath)}",
                "-o GlobalKnownHostsFile=/dev/null",
                "-o ConnectTimeout=30",
                $"-i {Quote(options.SshKeyPath)}");

    /// <summary>
    /// The wrapper's path (written once per distinct configuration, named by its hash, mode 0700, atomically), or
    /// null when SSH is not configured.
    /// </summary>
    public static string? EnsureProgram(WorkspaceOptions options)
    {
        if (CommandLine(options) is not { } commandLine)
        {
            return null;
        }
        var script = $"""
            #!/bin/sh
            # Written by Conductor (Conductor.Workspaces/Git/SshCommand.cs): libgit2 runs this for SSH remotes.
            exec {commandLine} "$@"

            """;
        var folder = Path.Combine(options.ScratchPath, "ssh");
        var path = Path.Combine(folder, $"ssh-{Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(script)))[..16]}");
        lock (Gate)
        {
            if (!File.Exists(path))
            {
                Directory.CreateDirectory(folder);
                var staging = $"{path}.tmp-{Guid.NewGuid():N}";
                File.WriteAllText(staging, script);
                File.SetUnixFileMode(staging, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
                File.Move(staging, path, overwrite: true);
            }
        }
        return path;
    }

    /// <summary>Single-quoted for the shell (the options validator refuses paths with a quote).</summary>
    private static string Quote(string path) => $"'{path}'";
}
