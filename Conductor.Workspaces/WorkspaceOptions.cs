using Microsoft.Extensions.Options;

namespace Conductor.Workspaces;

/// <summary>Bound from the <c>Workspaces</c> section (shared by the Api and the GitWorker); validated at start-up.</summary>
public sealed class WorkspaceOptions
{
    public const string SectionName = "Workspaces";

    /// <summary>The volume both services see: bare stores, worktrees, the credential key ring and scratch space.</summary>
    public string Root { get; set; } = "";

    /// <summary>The git executable (found on PATH when not rooted).</summary>
    public string GitPath { get; set; } = "git";

    /// <summary>Allow <c>http://</c> remotes (tests and local development; credentials would travel in clear).</summary>
    public bool AllowHttp { get; set; }

    /// <summary>Allow <c>file://</c> remotes and local paths (tests and local development: they read the server's disk).</summary>
    public bool AllowFile { get; set; }

    /// <summary>Allow remotes on loopback, private, link-local and other non-public addresses (no SSRF by default).</summary>
    public bool AllowPrivateNetworks { get; set; }

    /// <summary>
    /// The private key (a file the deployment provides, readable only by the GitWorker's user, no passphrase) that
    /// <c>ssh://</c> and <c>user@host:path</c> remotes authenticate with. Empty: SSH remotes are refused. libgit2 runs
    /// the system <c>ssh</c> for them; only this path (never the key) goes on its command line.
    /// </summary>
    public string SshKeyPath { get; set; } = "";

    /// <summary>The known_hosts file (deployment-provided) that SSH hosts' keys are checked against; required with a key.</summary>
    public string SshKnownHostsPath { get; set; } = "";

    /// <summary>The ssh client libgit2 runs (found on PATH when not rooted).</summary>
    public string SshPath { get; set; } = "ssh";

    public bool SshEnabled => !string.IsNullOrEmpty(SshKeyPath);

    /// <summary>The user name git is given with a token (GitHub and GitLab accept any name with a token).</summary>
    public string GitUsername { get; set; } = "x-access-token";

    /// <summary>Commits get <c>{login}@{AuthorEmailDomain}</c> as the author's address.</summary>
    public string AuthorEmailDomain { get; set; } = "users.noreply.conductor.invalid";

    public string CommitterName { get; set; } = "Conductor";
    public string CommitterEmail { get; set; } = "conductor@users.noreply.conductor.invalid";

    /// <summary>
    /// Keep one spare checkout per store (<c>worktrees/.spare-{store_id}</c>), prepared after a room is ready, that
    /// the next room on the same remote takes over instead of checking out every file: a second room costs a fetch
    /// and a rename. Costs the disk of one more checkout per store in use.
    /// </summary>
    public bool SpareWorktrees { get; set; } = true;

    public long MaxFileBytes { get; set; } = 10 * 1024 * 1024;

    /// <summary>Entries one listing returns at most (recursive listings of huge trees are refused, not truncated).</summary>
    public int MaxListEntries { get; set; } = 50_000;

    /// <summary>A store no room uses is removed this long after its last worktree went away.</summary>
    public TimeSpan StoreGracePeriod { get; set; } = TimeSpan.FromHours(1);

    /// <summary>How often the GitWorker looks for stores past their grace period.</summary>
    public TimeSpan StoreSweepInterval { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>Clone, fetch and push are killed after this long.</summary>
    public TimeSpan RemoteTimeout { get; set; } = TimeSpan.FromMinutes(30);

    /// <summary>A regular expression search gives up after this long.</summary>
    public TimeSpan RegexTimeout { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>Code search through a per-worktree trigram index (false: every query scans the worktree).</summary>
    public bool SearchIndex { get; set; } = true;

    /// <summary>
    /// Edits that bypass the Api and git (an editor writing on the volume) reach the search index through a background
    /// comparison of every file's size and time, started by a query when the last one is older than this.
    /// </summary>
    public TimeSpan SearchIndexMaxStaleness { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How long <c>?wait=</c> may hold a request.</summary>
    public int MaxWaitSeconds { get; set; } = 120;

    public string StoresPath => Path.Combine(Root, "stores");
    public string WorktreesPath => Path.Combine(Root, "worktrees");
    public string ScratchPath => Path.Combine(Root, "tmp");
    public string KeysPath => Path.Combine(Root, "keys");
}

internal sealed class WorkspaceOptionsValidator : IValidateOptions<WorkspaceOptions>
{
    public ValidateOptionsResult Validate(string? name, WorkspaceOptions options)
    {
        var failures = new List<string>();
        void Require(bool condition, string message)
        {
            if (!condition)
            {
                failures.Add(message);
            }
        }

        Require(OperatingSystem.IsLinux(), "Workspaces need Linux (realpath path checks, Unix file modes).");
        Require(!string.IsNullOrWhiteSpace(options.Root) && Path.IsPathFullyQualified(options.Root),
            "Workspaces:Root must be an absolute path (the folder shared by the Api and the GitWorker).");
        Require(!string.IsNullOrWhiteSpace(options.GitPath), "Workspaces:GitPath is required.");
        Require(!string.IsNullOrWhiteSpace(options.GitUsername), "Workspaces:GitUsername is required.");
        Require(!string.IsNullOrWhiteSpace(options.AuthorEmailDomain) && !options.AuthorEmailDomain.Contains('@', StringComparison.Ordinal),
            "Workspaces:AuthorEmailDomain must be a domain name.");
        if (options.SshEnabled)
        {
            // The paths go into the shell command libgit2 runs (core.sshCommand), single-quoted: no quote may end that early.
            static bool Safe(string path) => Path.IsPathFullyQualified(path) && !path.Any(c => c == '\'' || char.IsControl(c));
            Require(Safe(options.SshKeyPath), "Workspaces:SshKeyPath must be an absolute path without quotes or control characters.");
            Require(Safe(options.SshKnownHostsPath),
                "Workspaces:SshKnownHostsPath must be set with Workspaces:SshKeyPath (an absolute path without quotes): SSH host keys are always checked.");
            Require(!string.IsNullOrWhiteSpace(options.SshPath) && !options.SshPath.Any(c => c == '\'' || char.IsControl(c) || char.IsWhiteSpace(c)),
                "Workspaces:SshPath must be a program name or path without spaces or quotes.");
            // libgit2 prefers these variables to the store's core.sshCommand: they would bypass the configured key and host check.
            Require(Environment.GetEnvironmentVariable("GIT_SSH_COMMAND") is null && Environment.GetEnvironmentVariable("GIT_SSH") is null,
                "GIT_SSH_COMMAND / GIT_SSH are set in the environment; unset them (libgit2 would use them instead of Workspaces:SshKeyPath).");
        }
        Require(options.MaxFileBytes is > 0 and <= 100 * 1024 * 1024, "Workspaces:MaxFileBytes must be between 1 byte and 100 MB.");
        Require(options.MaxListEntries is >= 100 and <= 1_000_000, "Workspaces:MaxListEntries must be between 100 and 1,000,000.");
        Require(options.StoreGracePeriod >= TimeSpan.Zero, "Workspaces:StoreGracePeriod must not be negative.");
        Require(options.StoreSweepInterval > TimeSpan.Zero, "Workspaces:StoreSweepInterval must be positive.");
        Require(options.RemoteTimeout >= TimeSpan.FromSeconds(5), "Workspaces:RemoteTimeout must be at least 5 seconds.");
        Require(options.RegexTimeout > TimeSpan.Zero && options.RegexTimeout <= TimeSpan.FromMinutes(1), "Workspaces:RegexTimeout must be between 0 and 1 minute.");
        Require(options.SearchIndexMaxStaleness > TimeSpan.Zero, "Workspaces:SearchIndexMaxStaleness must be positive.");
        Require(options.MaxWaitSeconds is >= 0 and <= 600, "Workspaces:MaxWaitSeconds must be between 0 and 600.");
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
