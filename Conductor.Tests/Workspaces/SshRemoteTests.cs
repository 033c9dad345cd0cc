using Conductor.Jobs;
using Conductor.Tests.Infrastructure;
using Conductor.Tests.Jobs;
using Conductor.Workspaces;

namespace Conductor.Tests.Workspaces;

/// <summary>
/// SSH remotes end to end: a loopback sshd (Debian's openssh-server, started by the test with its own host key and
/// authorized_keys), real GitWorker processes whose libgit2 runs the system ssh with the deployment's key file
/// (<c>Workspaces:SshKeyPath</c>) and known_hosts (<c>Workspaces:SshKnownHostsPath</c>), Postgres and Redis.
/// </summary>
[Collection(InfrastructureCollection.Name)]
public sealed class SshRemoteTests(PostgresServerFixture postgres, RedisServerFixture redis)
{
    private static readonly TimeSpan JobTimeout = TimeSpan.FromSeconds(90);

    [Fact]
    public async Task An_ssh_remote_is_cloned_shared_committed_and_pushed_with_the_deployment_key_whose_content_appears_nowhere()
    {
        await using var env = await WorkspaceTestEnvironment.CreateAsync(postgres, redis);
        await using var sshd = await SshTestServer.StartAsync(Path.Combine(env.Directory, "sshd"));
        env.Jobs.Overrides["Workspaces:SshKeyPath"] = sshd.ClientKeyPath;
        env.Jobs.Overrides["Workspaces:SshKnownHostsPath"] = sshd.KnownHostsPath;
        await env.StartHostAsync();
        var bare = env.CreateRemote("team.git");
        var keySecret = sshd.ClientKeySecret();
        await using var watcher = new ProcessListingWatcher(keySecret);
        await env.StartWorkerAsync();

        // A token sent along with an SSH remote is not used and not kept: the deployment's key is the credential.
        var roomId = await env.CreateRoomAsync();
        var created = await env.Commands.CreateAsync(roomId, Guid.NewGuid(), sshd.UrlOf(bare), env.Token, "main", CancellationToken.None);
        var job = await env.WaitForJobAsync(created!.Value.Job.Id, JobTimeout);
        Assert.True(job.Status == JobStatus.Succeeded, $"{JobTestEnvironment.Describe(job)}\n{env.Diagnostics}\n--- sshd ---\n{sshd.Output}");
        var worktree = Path.Combine(env.Root, "worktrees", roomId.ToString("D"));
        Assert.Equal("# Team repository\nHello Conductor\n", await File.ReadAllTextAsync(Path.Combine(worktree, "README.md")));
        Assert.Equal("", (await env.DumpTablesAsync("workspace_credentials")).Trim());
        Assert.Contains("Accepted publickey", sshd.Output, StringComparison.Ordinal);

        // The second room on the remote fetches over SSH into the same store (that fetch is its access check).
        var second = await env.CreateRoomAsync();
        var secondJob = await env.WaitForJobAsync(
            (await env.Commands.CreateAsync(second, Guid.NewGuid(), sshd.UrlOf(bare), null, "main", CancellationToken.None))!.Value.Job.Id, JobTimeout);
        Assert.True(secondJob.Status == JobStatus.Succeeded, $"{JobTestEnvironment.Describe(secondJob)}\n{env.Diagnostics}\n--- sshd ---\n{sshd.Output}");

        // Commit and push over SSH.
        await File.WriteAllTextAsync(Path.Combine(worktree, "ssh.txt"), "pushed over ssh\n");
        var commit = await env.WaitForJobAsync((await env.Commands.CommitAsync(roomId, Guid.NewGuid(), "alice", "Over SSH", true, CancellationToken.None)).Id, JobTimeout);
        Assert.True(commit.Status == JobStatus.Succeeded, $"{JobTestEnvironment.Describe(commit)}\n{env.Diagnostics}");
        Assert.True(commit.Result!.Value.GetProperty("pushed").GetBoolean(), commit.Result.Value.GetRawText());
        Assert.Equal("pushed over ssh\n", TestGit.Run(bare, "show", $"session/{roomId:D}:ssh.txt"));

        // libgit2 ran the system ssh with the key's path (never its content) and the deployment's known_hosts.
        await watcher.DisposeAsync();
        Assert.True(watcher.SshProcessesSeen > 0, "the watcher saw no ssh process: it proves nothing");
        Assert.Contains(watcher.SshCommandLines, line => line.Contains($"-i {sshd.ClientKeyPath}", StringComparison.Ordinal)
            && line.Contains("StrictHostKeyChecking=yes", StringComparison.Ordinal) && line.Contains(sshd.KnownHostsPath, StringComparison.Ordinal));
        Assert.Empty(watcher.Leaks);
        Assert.All(env.Workers, w => Assert.DoesNotContain(keySecret, w.Output, StringComparison.Ordinal));
        Assert.DoesNotContain(keySecret, string.Join('\n', env.Jobs.Log), StringComparison.Ordinal);
        Assert.DoesNotContain(keySecret, await env.DumpTablesAsync("jobs", "workspaces", "workspace_credentials", "workspace_stores"), StringComparison.Ordinal);
        Assert.DoesNotContain(keySecret, await env.DumpRedisAsync(), StringComparison.Ordinal);
        WorkspaceLifecycleTests.AssertNoFileContains(env.Root, keySecret);
    }

    [Fact]
    public async Task An_ssh_remote_that_does_not_know_the_key_fails_the_workspace_at_once_with_the_reason()
    {
        await using var env = await WorkspaceTestEnvironment.CreateAsync(postgres, redis);
        await using var sshd = await SshTestServer.StartAsync(Path.Combine(env.Directory, "sshd"));
        env.Jobs.Overrides["Workspaces:SshKeyPath"] = sshd.UnauthorizedKeyPath;
        env.Jobs.Overrides["Workspaces:SshKnownHostsPath"] = sshd.KnownHostsPath;
        await env.StartHostAsync();
        var bare = env.CreateRemote("team.git");
        await env.StartWorkerAsync();

        var roomId = await env.CreateRoomAsync();
        var created = await env.Commands.CreateAsync(roomId, Guid.NewGuid(), sshd.UrlOf(bare), null, "main", CancellationToken.None);
        var job = await env.WaitForJobAsync(created!.Value.Job.Id, JobTimeout);
        Assert.True(job.Status == JobStatus.Failed, JobTestEnvironment.Describe(job));
        Assert.Equal(1, job.Attempts); // an access refusal is not retried
        var workspace = (await env.Repository.GetAsync(roomId, CancellationToken.None))!;
        Assert.Equal(WorkspaceStatus.Failed, workspace.Status);
        Assert.Contains("refused access", workspace.Error, StringComparison.Ordinal);
        // ssh's own reason reaches the GitWorker's log (libgit2 leaves the child's stderr to its parent's).
        Assert.Contains("Permission denied (publickey)", env.Workers[0].Output, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("ssh://git@example.com/owner/repo.git", "ssh://git@example.com/owner/repo")]
    [InlineData("ssh://git@example.com:2222/owner/repo", "ssh://git@example.com:2222/owner/repo")]
    [InlineData("git@example.com:owner/repo.git", "ssh://git@example.com/~/owner/repo")]
    [InlineData("example.com:/srv/repo.git", "ssh://example.com/srv/repo")]
    public async Task Ssh_urls_are_accepted_when_a_deployment_key_is_configured(string url, string normalized)
    {
        var options = new WorkspaceOptions { SshKeyPath = "/keys/id", SshKnownHostsPath = "/keys/known_hosts", AllowPrivateNetworks = true };
        var remote = await RemoteUrlValidator.ValidateAsync(url, options, CancellationToken.None);
        Assert.Equal(normalized, remote.NormalizedUrl);
        Assert.True(remote.IsSsh);
        Assert.Equal(url, remote.GitUrl);

        var refused = await Assert.ThrowsAsync<RemoteUrlException>(() => RemoteUrlValidator.ValidateAsync(url, new WorkspaceOptions(), CancellationToken.None));
        Assert.Contains("SSH remotes are not enabled", refused.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("ssh://git:secret@example.com/owner/repo.git")]
    [InlineData("ssh://-oProxyCommand=touch@example.com/owner/repo.git")]
    [InlineData("ssh://git@example.com/")]
    [InlineData("ssh://git@example.com/owner/re'po.git")]
    [InlineData("git@example.com:owner/$(reboot).git")]
    public async Task Ssh_urls_with_a_password_an_option_like_user_no_path_or_shell_characters_are_refused(string url)
    {
        var options = new WorkspaceOptions { SshKeyPath = "/keys/id", SshKnownHostsPath = "/keys/known_hosts", AllowPrivateNetworks = true };
        await Assert.ThrowsAsync<RemoteUrlException>(() => RemoteUrlValidator.ValidateAsync(url, options, CancellationToken.None));
    }
}
