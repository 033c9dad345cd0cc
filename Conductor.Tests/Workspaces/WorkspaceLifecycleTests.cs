using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Conductor.Jobs;
using Conductor.Tests.Infrastructure;
using Conductor.Tests.Jobs;
using Conductor.Workspaces;
using Conductor.Workspaces.Files;
using Microsoft.Extensions.DependencyInjection;

namespace Conductor.Tests.Workspaces;

/// <summary>
/// The lifecycle end to end below HTTP: the Api-side services in process, real GitWorker processes, real remotes
/// over smart HTTP with basic auth (so every clone, fetch and push hands libgit2 the token from memory), Postgres and Redis.
/// </summary>
[Collection(InfrastructureCollection.Name)]
public sealed class WorkspaceLifecycleTests(PostgresServerFixture postgres, RedisServerFixture redis)
{
    private static readonly TimeSpan JobTimeout = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task A_workspace_is_cloned_with_the_token_committed_and_pushed_and_the_token_appears_nowhere()
    {
        await using var env = await WorkspaceTestEnvironment.CreateAsync(postgres, redis);
        await env.StartHostAsync();
        var bare = env.CreateRemote("team.git");
        var roomId = await env.CreateRoomAsync();
        var userId = Guid.NewGuid();
        await using var events = await RoomEvents.SubscribeAsync(env.Services, roomId);
        await using var watcher = new ProcessListingWatcher(env.Token);
        await env.StartWorkerAsync();

        var created = await env.Commands.CreateAsync(roomId, userId, env.Server.UrlOf("team.git"), env.Token, "main", CancellationToken.None);
        Assert.NotNull(created);
        Assert.Equal(WorkspaceStatus.Creating, created.Value.Workspace.Status);
        var job = await env.WaitForJobAsync(created.Value.Job.Id, JobTimeout);
        Assert.True(job.Status == JobStatus.Succeeded, $"{JobTestEnvironment.Describe(job)}\n{env.Diagnostics}");

        var workspace = (await env.Repository.GetAsync(roomId, CancellationToken.None))!;
        Assert.Equal(WorkspaceStatus.Ready, workspace.Status);
        Assert.Equal($"session/{roomId:D}", workspace.Branch);
        Assert.Equal(TestGit.Run(bare, "rev-parse", "main").Trim(), workspace.HeadCommit);
        var worktree = Path.Combine(env.Root, "worktrees", roomId.ToString("D"));
        Assert.Equal("# Team repository\nHello Conductor\n", await File.ReadAllTextAsync(Path.Combine(worktree, "README.md")));
        Assert.Equal($"session/{roomId:D}", TestGit.Run(worktree, "branch", "--show-current").Trim());
        // libgit2 asked anonymously first, was refused, and then authenticated with the token from its credentials callback.
        Assert.True(env.Server.Unauthorized > 0 && env.Server.Authorized > 0, $"401s: {env.Server.Unauthorized}, authorised: {env.Server.Authorized}");

        await events.WaitForAsync(e => e.Events.Any(ev => Type(ev) == "workspace" && Status(ev) == WorkspaceStatus.Ready), TimeSpan.FromSeconds(10));
        Assert.Contains(events.Events, ev => Type(ev) == "job" && ev.TryGetProperty("progress", out var p) && p.GetDouble() < 1
            && ev.GetProperty("message").GetString()!.Contains('%', StringComparison.Ordinal));

        // A member edits a file; the change is published; the commit job commits it as that member and pushes.
        var files = env.Services.GetRequiredService<WorkspaceFileService>();
        await files.WriteAsync(roomId, "src/feature.cs", "// new feature\n"u8.ToArray(), null, userId, CancellationToken.None);
        await events.WaitForAsync(e => e.Events.Any(ev => Type(ev) == "file_changed" && ev.GetProperty("path").GetString() == "src/feature.cs"
            && ev.GetProperty("change").GetString() == "created" && ev.GetProperty("user_id").GetGuid() == userId), TimeSpan.FromSeconds(10));

        var commitJob = await env.Commands.CommitAsync(roomId, userId, "alice", "Add the feature", push: true, CancellationToken.None);
        var committed = await env.WaitForJobAsync(commitJob.Id, JobTimeout);
        Assert.True(committed.Status == JobStatus.Succeeded, $"{JobTestEnvironment.Describe(committed)}\n{env.Diagnostics}");
        var result = committed.Result!.Value;
        Assert.True(result.GetProperty("committed").GetBoolean());
        Assert.True(result.GetProperty("pushed").GetBoolean(), result.GetRawText());
        var commit = result.GetProperty("commit").GetString()!;
        Assert.Equal(commit, TestGit.Run(bare, "rev-parse", $"refs/heads/session/{roomId:D}").Trim());
        Assert.Equal("alice|alice@users.noreply.conductor.invalid|Add the feature",
            TestGit.Run(bare, "log", "-1", "--format=%an|%ae|%s", $"session/{roomId:D}").Trim());
        Assert.Equal("// new feature\n", TestGit.Run(bare, "show", $"session/{roomId:D}:src/feature.cs"));

        var again = await env.WaitForJobAsync((await env.Commands.CommitAsync(roomId, userId, "alice", "Nothing", true, CancellationToken.None)).Id, JobTimeout);
        Assert.False(again.Result!.Value.GetProperty("committed").GetBoolean());
        Assert.Equal("no changes", again.Result.Value.GetProperty("reason").GetString());

        // The token: never in argv or environments, logs, Redis, the database or a plaintext file.
        await watcher.DisposeAsync();
        Assert.True(watcher.GitProcessesSeen > 0, "the watcher saw no git process: it proves nothing");
        Assert.True(watcher.GitWorkerSamples > 0, "the watcher never saw the GitWorker, where libgit2 holds the token");
        Assert.Empty(watcher.Leaks);
        Assert.All(env.Workers, w => Assert.DoesNotContain(env.Token, w.Output, StringComparison.Ordinal));
        Assert.Contains("Cloning store", env.Workers[0].Output, StringComparison.Ordinal); // the log was really captured
        Assert.DoesNotContain(env.Token, string.Join('\n', env.Jobs.Log), StringComparison.Ordinal);
        var tables = await env.DumpTablesAsync("jobs", "workspaces", "workspace_credentials", "workspace_stores");
        Assert.Contains(roomId.ToString("D"), tables, StringComparison.Ordinal);
        Assert.DoesNotContain(env.Token, tables, StringComparison.Ordinal);
        var redisDump = await env.DumpRedisAsync();
        Assert.Contains(job.Id.ToString("D"), redisDump, StringComparison.Ordinal);
        Assert.DoesNotContain(env.Token, redisDump, StringComparison.Ordinal);
        Assert.DoesNotContain(env.Token, string.Join('\n', events.Events.Select(e => e.GetRawText())), StringComparison.Ordinal);
        AssertNoFileContains(env.Root, env.Token);
        Assert.Empty(Directory.EnumerateFileSystemEntries(env.Root, "*askpass*", SearchOption.AllDirectories)); // no helper, no FIFO
    }

    [Fact]
    public async Task A_wrong_token_fails_the_workspace_and_an_existing_store_is_not_shared_without_access()
    {
        await using var env = await WorkspaceTestEnvironment.CreateAsync(postgres, redis);
        await env.StartHostAsync();
        env.CreateRemote("private.git");
        await env.StartWorkerAsync();
        var url = env.Server.UrlOf("private.git");

        var first = await env.CreateRoomAsync();
        var ok = await env.Commands.CreateAsync(first, Guid.NewGuid(), url, env.Token, null, CancellationToken.None);
        Assert.Equal(JobStatus.Succeeded, (await env.WaitForJobAsync(ok!.Value.Job.Id, JobTimeout)).Status);

        // The store exists now; a room whose requester has no access must not get a worktree from it.
        var intruder = await env.CreateRoomAsync();
        var denied = await env.Commands.CreateAsync(intruder, Guid.NewGuid(), url, "wrong-token", null, CancellationToken.None);
        var deniedJob = await env.WaitForJobAsync(denied!.Value.Job.Id, JobTimeout);
        Assert.Equal(JobStatus.Failed, deniedJob.Status);
        Assert.Equal(1, deniedJob.Attempts); // an access refusal is not retried
        var failed = (await env.Repository.GetAsync(intruder, CancellationToken.None))!;
        Assert.Equal(WorkspaceStatus.Failed, failed.Status);
        Assert.Contains("refused access", failed.Error, StringComparison.Ordinal);
        Assert.False(Directory.Exists(Path.Combine(env.Root, "worktrees", intruder.ToString("D"))));

        // Without any token, too.
        var anonymous = await env.CreateRoomAsync();
        var none = await env.Commands.CreateAsync(anonymous, Guid.NewGuid(), url, null, null, CancellationToken.None);
        Assert.Equal(JobStatus.Failed, (await env.WaitForJobAsync(none!.Value.Job.Id, JobTimeout)).Status);

        // A failed workspace can be created again (no delete needed), and a missing base branch fails clearly.
        var retry = await env.Commands.CreateAsync(intruder, Guid.NewGuid(), url, env.Token, "no-such-branch", CancellationToken.None);
        Assert.Equal(JobStatus.Failed, (await env.WaitForJobAsync(retry!.Value.Job.Id, JobTimeout)).Status);
        Assert.Contains("no branch 'no-such-branch'", (await env.Repository.GetAsync(intruder, CancellationToken.None))!.Error, StringComparison.Ordinal);

        // The room that has one already gets no second.
        Assert.Null(await env.Commands.CreateAsync(first, Guid.NewGuid(), url, env.Token, null, CancellationToken.None));
    }

    [Fact]
    public async Task Two_rooms_on_one_remote_share_one_object_store_and_the_second_is_ready_faster()
    {
        await using var env = await WorkspaceTestEnvironment.CreateAsync(postgres, redis);
        await env.StartHostAsync();
        var bare = env.CreateRemote("big.git", bulkBytes: 6 * 1024 * 1024);
        // A remote on a real network is slower than loopback; this keeps the clone's cost visible next to the fetch.
        env.Server.ThrottlePerChunk = TimeSpan.FromMilliseconds(10);
        await env.StartWorkerAsync();
        var url = env.Server.UrlOf("big.git");

        var roomA = await env.CreateRoomAsync();
        var jobA = await env.WaitForJobAsync((await env.Commands.CreateAsync(roomA, Guid.NewGuid(), url, env.Token, "main", CancellationToken.None))!.Value.Job.Id, JobTimeout);
        var roomB = await env.CreateRoomAsync();
        var jobB = await env.WaitForJobAsync((await env.Commands.CreateAsync(roomB, Guid.NewGuid(), url, env.Token, "main", CancellationToken.None))!.Value.Job.Id, JobTimeout);
        Assert.Equal(JobStatus.Succeeded, jobA.Status);
        Assert.Equal(JobStatus.Succeeded, jobB.Status);

        var stores = Directory.GetDirectories(Path.Combine(env.Root, "stores"));
        var store = Assert.Single(stores);
        Assert.EndsWith(".git", store, StringComparison.Ordinal);
        foreach (var room in new[] { roomA, roomB })
        {
            var worktree = Path.Combine(env.Root, "worktrees", room.ToString("D"));
            var gitFile = await File.ReadAllTextAsync(Path.Combine(worktree, ".git"));
            // libgit2 writes the link with a trailing '/', git without one; both read it the same way.
            Assert.Equal($"gitdir: {Path.Combine(store, "worktrees", room.ToString("D"))}", gitFile.Trim().TrimEnd('/'));
            Assert.Equal(Path.GetFullPath(store), Path.GetFullPath(TestGit.Run(worktree, "rev-parse", "--git-common-dir").Trim()));
        }
        // libgit2's worktree API creates a branch named after each worktree; none is left in the store.
        Assert.Equal(new[] { $"session/{roomA:D}", $"session/{roomB:D}" }.Order(StringComparer.Ordinal),
            TestGit.Run(store, "for-each-ref", "--format=%(refname:short)", "refs/heads").Trim().Split('\n').Order(StringComparer.Ordinal));
        var (a, b) = (jobA.FinishedAt!.Value - jobA.StartedAt!.Value, jobB.FinishedAt!.Value - jobB.StartedAt!.Value);
        Assert.True(b < a, $"first (clone) {a.TotalMilliseconds} ms, second (fetch + worktree) {b.TotalMilliseconds} ms");
        Assert.Contains($"Store {Path.GetFileNameWithoutExtension(store)} exists; fetching", env.Workers[0].Output, StringComparison.Ordinal);

        // The second room took over the spare checkout the first one left (prepared after it was ready).
        Assert.Contains($"Room {roomB:D} took over the spare checkout", env.Workers[0].Output, StringComparison.Ordinal);
        Assert.Equal("", TestGit.Run(Path.Combine(env.Root, "worktrees", roomB.ToString("D")), "status", "--porcelain"));

        // Separate checkouts: an edit in one room is not in the other.
        var files = env.Services.GetRequiredService<WorkspaceFileService>();
        await files.WriteAsync(roomA, "only-a.txt", "a"u8.ToArray(), null, Guid.NewGuid(), CancellationToken.None);
        await Assert.ThrowsAsync<WorkspacePathException>(() => files.ReadAsync(roomB, "only-a.txt", CancellationToken.None));

        // The remote moves on; a third room takes over the spare made at the old commit and gets the new one.
        var seed = Path.Combine(env.Directory, "moved");
        TestGit.Run(env.Directory, "clone", "--quiet", bare, seed);
        await File.WriteAllTextAsync(Path.Combine(seed, "moved.txt"), "after room B\n");
        TestGit.Run(seed, "add", "moved.txt");
        TestGit.Run(seed, "commit", "--quiet", "-m", "Move on");
        TestGit.Run(seed, "push", "--quiet", "origin", "main");
        var roomC = await env.CreateRoomAsync();
        var jobC = await env.WaitForJobAsync((await env.Commands.CreateAsync(roomC, Guid.NewGuid(), url, env.Token, "main", CancellationToken.None))!.Value.Job.Id, JobTimeout);
        Assert.True(jobC.Status == JobStatus.Succeeded, $"{JobTestEnvironment.Describe(jobC)}\n{env.Diagnostics}");
        Assert.Contains($"Room {roomC:D} took over the spare checkout", env.Workers[0].Output, StringComparison.Ordinal);
        var worktreeC = Path.Combine(env.Root, "worktrees", roomC.ToString("D"));
        Assert.Equal("after room B\n", await File.ReadAllTextAsync(Path.Combine(worktreeC, "moved.txt")));
        Assert.Equal(TestGit.Run(bare, "rev-parse", "main").Trim(), TestGit.Run(worktreeC, "rev-parse", "HEAD").Trim());
        Assert.Equal($"session/{roomC:D}", TestGit.Run(worktreeC, "branch", "--show-current").Trim());
        Assert.Equal("", TestGit.Run(worktreeC, "status", "--porcelain"));
        Assert.Equal($"gitdir: {Path.Combine(store, "worktrees", roomC.ToString("D"))}", (await File.ReadAllTextAsync(Path.Combine(worktreeC, ".git"))).Trim());
        Assert.False(File.Exists(Path.Combine(env.Root, "worktrees", roomB.ToString("D"), "moved.txt")));
        // Still no stray branch: only the rooms' session branches.
        Assert.Equal(new[] { $"session/{roomA:D}", $"session/{roomB:D}", $"session/{roomC:D}" }.Order(StringComparer.Ordinal),
            TestGit.Run(store, "for-each-ref", "--format=%(refname:short)", "refs/heads").Trim().Split('\n').Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task A_worker_killed_during_a_clone_is_replaced_and_the_workspace_becomes_ready()
    {
        await using var env = await WorkspaceTestEnvironment.CreateAsync(postgres, redis);
        await env.StartHostAsync();
        env.CreateRemote("slow.git", bulkBytes: 4 * 1024 * 1024);
        env.Server.ThrottlePerChunk = TimeSpan.FromMilliseconds(200); // ~13 s for the pack: plenty of time to kill
        var roomId = await env.CreateRoomAsync();
        await using var events = await RoomEvents.SubscribeAsync(env.Services, roomId);
        var first = await env.StartWorkerAsync();

        var created = await env.Commands.CreateAsync(roomId, Guid.NewGuid(), env.Server.UrlOf("slow.git"), env.Token, "main", CancellationToken.None);
        await events.WaitForAsync(e => e.Events.Any(ev => Type(ev) == "job"
            && ev.TryGetProperty("message", out var m) && m.GetString()!.StartsWith("Receiving objects", StringComparison.Ordinal)), TimeSpan.FromSeconds(30));
        await first.KillAsync();
        Assert.True(first.HasExited);
        Assert.Equal(WorkspaceStatus.Creating, (await env.Repository.GetAsync(roomId, CancellationToken.None))!.Status);
        Assert.NotEmpty(Directory.GetDirectories(Path.Combine(env.Root, "stores"), "*.tmp-*")); // killed mid-clone

        env.Server.ThrottlePerChunk = TimeSpan.Zero;
        await env.StartWorkerAsync();
        var job = await env.WaitForJobAsync(created!.Value.Job.Id, TimeSpan.FromSeconds(90));
        Assert.True(job.Status == JobStatus.Succeeded, $"{JobTestEnvironment.Describe(job)}\n{env.Diagnostics}");
        Assert.Equal(2, job.Attempts);
        Assert.Equal(WorkspaceStatus.Ready, (await env.Repository.GetAsync(roomId, CancellationToken.None))!.Status);
        Assert.Single(Directory.GetDirectories(Path.Combine(env.Root, "stores"))); // the half clone was cleaned up
        Assert.True(File.Exists(Path.Combine(env.Root, "worktrees", roomId.ToString("D"), "data", "blob0.bin")));
    }

    [Fact]
    public async Task A_rejected_push_is_reported_with_gits_reason_and_delete_removes_worktree_branch_and_unused_store()
    {
        await using var env = await WorkspaceTestEnvironment.CreateAsync(postgres, redis);
        await env.StartHostAsync();
        var bare = env.CreateRemote("shared.git");
        await env.StartWorkerAsync();
        var roomId = await env.CreateRoomAsync();
        var userId = Guid.NewGuid();
        var created = await env.Commands.CreateAsync(roomId, userId, env.Server.UrlOf("shared.git"), env.Token, "main", CancellationToken.None);
        Assert.Equal(JobStatus.Succeeded, (await env.WaitForJobAsync(created!.Value.Job.Id, JobTimeout)).Status);

        // Someone else pushed to the session branch meanwhile: ours is not a fast-forward of it.
        var other = Path.Combine(env.Directory, "other");
        TestGit.Run(env.Directory, "clone", "--quiet", bare, other);
        TestGit.Run(other, "checkout", "--quiet", "-b", $"session/{roomId:D}");
        File.WriteAllText(Path.Combine(other, "theirs.txt"), "theirs\n");
        TestGit.Run(other, "add", "--all");
        TestGit.Run(other, "commit", "--quiet", "-m", "theirs");
        TestGit.Run(other, "push", "--quiet", "origin", $"session/{roomId:D}");

        var files = env.Services.GetRequiredService<WorkspaceFileService>();
        await files.WriteAsync(roomId, "ours.txt", "ours\n"u8.ToArray(), null, userId, CancellationToken.None);
        var job = await env.WaitForJobAsync((await env.Commands.CommitAsync(roomId, userId, "bob", "ours", true, CancellationToken.None)).Id, JobTimeout);
        Assert.Equal(JobStatus.Succeeded, job.Status);
        var result = job.Result!.Value;
        Assert.True(result.GetProperty("committed").GetBoolean());
        Assert.False(result.GetProperty("pushed").GetBoolean());
        var reason = result.GetProperty("push_error").GetString()!;
        Assert.True(reason.Contains("fetch first", StringComparison.Ordinal) || reason.Contains("non-fast-forward", StringComparison.Ordinal), reason);

        // Delete: worktree and branch go at once, the store after its (zero) grace period.
        var store = Assert.Single(Directory.GetDirectories(Path.Combine(env.Root, "stores")));
        var deleteJob = await env.Commands.DeleteAsync(roomId, CancellationToken.None);
        Assert.Equal(WorkspaceStatus.Deleting, (await env.Repository.GetAsync(roomId, CancellationToken.None))?.Status);
        Assert.Equal(JobStatus.Succeeded, (await env.WaitForJobAsync(deleteJob!.Id, JobTimeout)).Status);
        Assert.Null(await env.Repository.GetAsync(roomId, CancellationToken.None));
        Assert.False(Directory.Exists(Path.Combine(env.Root, "worktrees", roomId.ToString("D"))));
        Assert.Equal("", (await env.DumpTablesAsync("workspace_credentials")).Trim());
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(15);
        while (Directory.Exists(store) && DateTime.UtcNow < deadline)
        {
            await Task.Delay(100);
        }
        Assert.False(Directory.Exists(store), "the unused store was not removed after its grace period");
        Assert.False(Directory.Exists(Path.Combine(env.Root, "worktrees", $".spare-{Path.GetFileNameWithoutExtension(store)}")),
            "the store's spare checkout was left behind");
        Assert.Equal("", (await env.DumpTablesAsync("workspace_stores")).Trim());
    }

    [Fact]
    public async Task A_file_write_waits_for_the_room_lock_a_commit_holds()
    {
        await using var env = await WorkspaceTestEnvironment.CreateAsync(postgres, redis);
        await env.StartHostAsync();
        var roomId = await WorkspaceFixtures.CreateReadyWorkspaceAsync(env);
        var locks = env.Services.GetRequiredService<WorkspaceLocks>();
        var files = env.Services.GetRequiredService<WorkspaceFileService>();

        Task write;
        await using (await locks.LockRoomAsync(roomId, CancellationToken.None))
        {
            write = files.WriteAsync(roomId, "during-commit.txt", "x"u8.ToArray(), null, Guid.NewGuid(), CancellationToken.None);
            await Task.Delay(500);
            Assert.False(write.IsCompleted, "a write went ahead while the commit held the room lock");
            Assert.False(File.Exists(Path.Combine(env.Root, "worktrees", roomId.ToString("D"), "during-commit.txt")));
        }
        await write.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.True(File.Exists(Path.Combine(env.Root, "worktrees", roomId.ToString("D"), "during-commit.txt")));
    }

    private static string? Type(JsonElement e) => e.TryGetProperty("type", out var t) ? t.GetString() : null;
    private static string? Status(JsonElement e) => e.TryGetProperty("status", out var s) ? s.GetString() : null;

    internal static void AssertNoFileContains(string root, string secret)
    {
        var needle = Encoding.UTF8.GetBytes(secret);
        var scanned = 0;
        foreach (var file in Directory.EnumerateFiles(root, "*", new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = 0 }))
        {
            if (new FileInfo(file).LinkTarget is not null)
            {
                continue;
            }
            var bytes = File.ReadAllBytes(file);
            scanned++;
            Assert.True(bytes.AsSpan().IndexOf(needle) < 0, $"{file} contains the token");
        }
        Assert.True(scanned > 0);
    }
}

internal static class WorkspaceFixtures
{
    /// <summary>A ready workspace without a worker: the record as the worker leaves it and a git repository as the worktree.</summary>
    public static async Task<Guid> CreateReadyWorkspaceAsync(WorkspaceTestEnvironment env)
    {
        var roomId = await env.CreateRoomAsync();
        var remote = await RemoteUrlValidator.ValidateAsync("file:///nowhere/repo.git", new WorkspaceOptions { AllowFile = true }, CancellationToken.None);
        Assert.True(await env.Repository.TryCreateAsync(roomId, remote, "main", Guid.NewGuid(), null, CancellationToken.None));
        Assert.True(await env.Repository.SetStatusAsync(roomId, WorkspaceStatus.Ready, null, null, [WorkspaceStatus.Creating], CancellationToken.None));
        var worktree = Path.Combine(env.Root, "worktrees", roomId.ToString("D"));
        Directory.CreateDirectory(worktree);
        TestGit.Run(worktree, "init", "--quiet", "--initial-branch=main");
        return roomId;
    }
}
