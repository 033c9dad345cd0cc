using System.Diagnostics;
using System.Runtime.InteropServices;
using Microsoft.Extensions.Options;

namespace Conductor.Api.Sandbox;

/// <summary>
/// Runs programs confined by bubblewrap: new mount, PID, IPC, UTS (and, unless allowed, network) namespaces; only the
/// room's worktree writable (at <c>/workspace</c>), <see cref="SandboxOptions.ReadOnlyPaths"/> read-only, a private
/// <c>/tmp</c>, a fresh <c>/proc</c> and minimal <c>/dev</c>; nothing else of the host (no other room, no object store,
/// no <c>.conductor/</c>, no secrets) and an empty environment. An Api running as root lets bwrap make the mounts with
/// root's rights, then setpriv becomes the unprivileged <see cref="SandboxOptions.Uid"/>; an Api running as a user (a
/// developer's machine) has bwrap build the sandbox in a user namespace of its own, where the Api's user is
/// <see cref="SandboxOptions.Uid"/> and the worktree's <c>.git</c> is bound read-only. Either way setpriv leaves no
/// capabilities and sets no_new_privs before prlimit applies the resource limits and execs the program.
/// </summary>
public sealed class SandboxLauncher(IOptions<SandboxOptions> options)
{
    public const string WorkspacePath = "/workspace";
    public const string Hostname = "conductor-sandbox";

    private readonly SandboxOptions _options = options.Value;

    public SandboxOptions Options => _options;

    /// <summary>The sandbox's PATH: the host's tool folders as they appear inside.</summary>
    public const string SearchPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

    /// <summary>bwrap's full argument list (without the bwrap path itself).</summary>
    public IReadOnlyList<string> BuildArguments(SandboxSpec spec)
    {
        ArgumentException.ThrowIfNullOrEmpty(spec.Worktree);
        if (spec.Argv.Count == 0)
        {
            throw new ArgumentException("A sandboxed program needs an argv.", nameof(spec));
        }
        var userNamespace = UsesUserNamespace;
        var args = new List<string>();
        if (userNamespace)
        {
            // An unprivileged Api: a user namespace gives bwrap the right to mount, and maps the Api's user (the owner
            // of the worktree) to the sandbox user; setgroups is denied there, so setpriv below changes no ids.
            args.AddRange(["--unshare-user", "--uid", Id(_options.Uid), "--gid", Id(_options.Gid)]);
        }
        // As root, no user namespace: bwrap keeps root's right to mount, and setpriv below gives up every privilege.
        args.AddRange(["--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try", "--die-with-parent", "--hostname", Hostname]);
        if (!spec.Network)
        {
            args.Add("--unshare-net");
        }
        foreach (var path in _options.ReadOnlyPaths)
        {
            args.AddRange(["--ro-bind-try", path, path]);
        }
        // Debian's merged /usr: /bin, /lib, ... are links into /usr.
        foreach (var link in new[] { "bin", "sbin", "lib", "lib32", "lib64", "libx32" })
        {
            if (Directory.Exists("/usr/" + link))
            {
                args.AddRange(["--symlink", "usr/" + link, "/" + link]);
            }
        }
        args.AddRange(["--proc", "/proc", "--dev", "/dev", "--perms", "1777", "--tmpfs", "/tmp", "--perms", "1777", "--tmpfs", "/dev/shm"]);
        args.AddRange(["--bind", spec.Worktree, WorkspacePath]);
        if (userNamespace)
        {
            // The worktree's files are the Api user's own here, so PrepareWorktree's root-owned .git does not exist:
            // bound read-only, the link can be neither rewritten nor removed (a mount point), and the Api's git never
            // follows a link a command planted to a repository (and hooks) of its making.
            args.AddRange(["--ro-bind-try", Path.Combine(spec.Worktree, ".git"), WorkspacePath + "/.git"]);
        }
        args.AddRange(["--chdir", WorkspacePath]);
        args.Add("--clearenv");
        var environment = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["PATH"] = SearchPath,
            ["HOME"] = "/tmp",
            ["LANG"] = "C.UTF-8",
            ["USER"] = "sandbox",
            ["DOTNET_CLI_HOME"] = "/tmp",
            ["DOTNET_NOLOGO"] = "1",
            ["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1",
            ["npm_config_cache"] = "/tmp/.npm",
        };
        foreach (var (key, value) in spec.Environment ?? new Dictionary<string, string>())
        {
            environment[key] = value;
        }
        foreach (var (key, value) in environment)
        {
            args.AddRange(["--setenv", key, value]);
        }
        args.Add("--");
        args.Add(_options.SetprivPath);
        if (!userNamespace)
        {
            args.AddRange([$"--reuid={_options.Uid}", $"--regid={_options.Gid}", "--clear-groups"]);
        }
        args.AddRange([
            "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs", "--",
            _options.PrlimitPath, $"--cpu={_options.CpuSeconds}", $"--data={_options.MemoryBytes}", $"--nproc={_options.MaxProcesses}",
            $"--fsize={_options.MaxFileBytes}", $"--nofile={_options.MaxOpenFiles}", "--core=0", "--",
        ]);
        if (spec.MergeStderr)
        {
            // Not a shell string built from input: the argv travels as sh's positional parameters, untouched.
            args.AddRange(["/bin/sh", "-c", "exec \"$@\" 2>&1", "sh"]);
        }
        args.AddRange(spec.Argv);
        return args;
    }

    /// <summary>Whether sandboxes are built in a user namespace: <see cref="SandboxOptions.UserNamespace"/>, else when the Api is not root.</summary>
    public bool UsesUserNamespace => _options.UserNamespace ?? LibC.GetEuid() != 0;

    private static string Id(int id) => id.ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>A start info for <paramref name="spec"/> with stdout and stderr redirected (stdin closed).</summary>
    public ProcessStartInfo CreateStartInfo(SandboxSpec spec)
    {
        var info = new ProcessStartInfo(_options.BwrapPath)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            WorkingDirectory = "/",
        };
        foreach (var argument in BuildArguments(spec))
        {
            info.ArgumentList.Add(argument);
        }
        // bwrap itself needs nothing from the service's environment (the sandbox gets --clearenv anyway).
        info.Environment.Clear();
        info.Environment["PATH"] = SearchPath;
        return info;
    }

    /// <summary>
    /// Makes the worktree writable by the sandbox user: every entry becomes the sandbox user's; the worktree folder
    /// itself stays root's (libgit2 and git refuse a repository whose folder another user owns) with write for the
    /// sandbox group and the sticky bit, so a command can add top-level files but never remove or replace <c>.git</c>,
    /// which stays root's. Runs before every command, since the Api and the GitWorker write as root in between.
    /// </summary>
    public void PrepareWorktree(string worktree)
    {
        if (!OperatingSystem.IsLinux())
        {
            throw new PlatformNotSupportedException("The sandbox needs Linux (bubblewrap).");
        }
        if (UsesUserNamespace)
        {
            return; // the user namespace maps the worktree's owner, the Api's user, to the sandbox user: nothing to hand over
        }
        var root = LibC.OpenAt(AtCurrentDirectory, worktree, LibC.O_RDONLY | LibC.O_DIRECTORY | LibC.O_NOFOLLOW | LibC.O_CLOEXEC);
        if (root < 0)
        {
            throw new IOException($"Could not open the worktree '{worktree}' (errno {Marshal.GetLastPInvokeError()}).");
        }
        try
        {
            Check(LibC.FChownAt(root, "", 0, _options.Gid, AtEmptyPath), worktree);
            File.SetUnixFileMode($"/proc/self/fd/{root}", (UnixFileMode)0b011_111_111_101); // 3775: setgid, sticky, rwxrwxr-x
            HandOver(root, worktree, topLevel: true);
        }
        finally
        {
            LibC.Close(root);
        }
    }

    private const int AtCurrentDirectory = -100;
    private const int AtEmptyPath = 0x1000;

    /// <summary>
    /// Walks by file descriptor (openat with O_NOFOLLOW, fchownat with AT_SYMLINK_NOFOLLOW), never by path: a
    /// command running meanwhile (a terminal) could swap a folder for a link to <c>/</c>, and a path-based walk
    /// running as root would then follow it out of the worktree.
    /// </summary>
    private void HandOver(int directory, string display, bool topLevel)
    {
        var names = new List<string>();
        var enumeration = new EnumerationOptions { AttributesToSkip = 0, IgnoreInaccessible = true, RecurseSubdirectories = false };
        foreach (var entry in Directory.EnumerateFileSystemEntries($"/proc/self/fd/{directory}", "*", enumeration))
        {
            names.Add(Path.GetFileName(entry));
        }
        foreach (var name in names)
        {
            if (topLevel && name == ".git")
            {
                continue;
            }
            Check(LibC.FChownAt(directory, name, _options.Uid, _options.Gid, LibC.AT_SYMLINK_NOFOLLOW), Path.Combine(display, name));
            var child = LibC.OpenAt(directory, name, LibC.O_RDONLY | LibC.O_DIRECTORY | LibC.O_NOFOLLOW | LibC.O_CLOEXEC);
            if (child < 0)
            {
                continue; // not a folder (or a link to one, which is never followed), or gone meanwhile
            }
            try
            {
                HandOver(child, Path.Combine(display, name), topLevel: false);
            }
            finally
            {
                LibC.Close(child);
            }
        }
    }

    private static void Check(int result, string path)
    {
        if (result != 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            // A file that vanished meanwhile (a build deleting its output) is not an error.
            if (errno != 2)
            {
                throw new IOException($"Could not hand '{path}' to the sandbox user (errno {errno}).");
            }
        }
    }
}
