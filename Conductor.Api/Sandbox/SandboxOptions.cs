using System.ComponentModel.DataAnnotations;

namespace Conductor.Api.Sandbox;

/// <summary>How commands and terminals are confined (bound from <c>Sandbox</c>, validated at start-up).</summary>
public sealed class SandboxOptions : IValidatableObject
{
    public const string SectionName = "Sandbox";

    /// <summary>bubblewrap (Debian package <c>bubblewrap</c>).</summary>
    [Required]
    public string BwrapPath { get; set; } = "/usr/bin/bwrap";

    /// <summary>util-linux's setpriv: drops to <see cref="Uid"/> (as root) and every capability inside the sandbox, after bwrap has made its mounts.</summary>
    [Required]
    public string SetprivPath { get; set; } = "/usr/bin/setpriv";

    /// <summary>util-linux's prlimit: the CPU, memory, process and file-size limits.</summary>
    [Required]
    public string PrlimitPath { get; set; } = "/usr/bin/prlimit";

    /// <summary>util-linux's setsid: terminals start in a session of their own with the PTY as controlling terminal.</summary>
    [Required]
    public string SetsidPath { get; set; } = "/usr/bin/setsid";

    /// <summary>
    /// Build the sandbox in a user namespace of its own, as an unprivileged Api can (bwrap maps the Api's user to
    /// <see cref="Uid"/> inside, and the command holds no privilege on the host beyond that user's). Unset: only when
    /// the Api does not run as root; as root, bwrap makes the mounts with root's own rights and setpriv becomes
    /// <see cref="Uid"/>, which keeps the worktree's <c>.git</c> root's.
    /// </summary>
    public bool? UserNamespace { get; set; }

    /// <summary>The unprivileged user commands run as (default: nobody).</summary>
    [Range(1, int.MaxValue)]
    public int Uid { get; set; } = 65534;

    [Range(1, int.MaxValue)]
    public int Gid { get; set; } = 65534;

    /// <summary>Host folders bound read-only (when they exist). Nothing else of the host is visible.</summary>
    public List<string> ReadOnlyPaths { get; set; } = ["/usr", "/etc", "/opt"];

    /// <summary>CPU seconds per process (RLIMIT_CPU).</summary>
    [Range(1, 86_400)]
    public int CpuSeconds { get; set; } = 900;

    /// <summary>
    /// Writable memory per process (RLIMIT_DATA: heap and private writable mappings). Not RLIMIT_AS: .NET and Node
    /// reserve far more address space than they use and fail under an address-space limit.
    /// </summary>
    [Range(16L * 1024 * 1024, long.MaxValue)]
    public long MemoryBytes { get; set; } = 4L * 1024 * 1024 * 1024;

    /// <summary>Processes and threads of the sandbox user (RLIMIT_NPROC).</summary>
    [Range(8, 100_000)]
    public int MaxProcesses { get; set; } = 1024;

    /// <summary>Largest file a command may write (RLIMIT_FSIZE).</summary>
    [Range(1024, long.MaxValue)]
    public long MaxFileBytes { get; set; } = 1024L * 1024 * 1024;

    [Range(16, 1_048_576)]
    public int MaxOpenFiles { get; set; } = 4096;

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (UserNamespace == false && OperatingSystem.IsLinux() && LibC.GetEuid() != 0)
        {
            yield return new ValidationResult("Sandbox:UserNamespace=false needs the Api to run as root (only root may build a sandbox without a user namespace).");
        }
        foreach (var path in ReadOnlyPaths)
        {
            if (!Path.IsPathFullyQualified(path) || path.TrimEnd('/').Length == 0)
            {
                yield return new ValidationResult($"Sandbox:ReadOnlyPaths entry '{path}' must be an absolute path other than '/'.");
            }
        }
    }
}
