using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Conductor.Tests.Auth;
using Conductor.Tests.GitRemote;
using Conductor.Tests.Infrastructure;
using Conductor.Tests.Workspaces;

namespace Conductor.Tests.Cli;

/// <summary>
/// The acceptance story of issue 17 with the real CLI against a real Api and GitWorker, in a temporary HOME: log in,
/// `conductor up` from a local clone (no git host credential reaches the server), a teammate edits in the room and
/// syncs, chat, `conductor sync`, status, diff and watch, `conductor publish` to the user's own (local bare) remote,
/// logout revoking the session; and the token is nowhere but the 0600 session file.
/// </summary>
[Collection(InfrastructureCollection.Name)]
public sealed class CliEndToEndTests(PostgresServerFixture postgres, RedisServerFixture redis)
{
    [Fact]
    public async Task A_user_creates_a_room_from_their_clone_syncs_a_teammates_edit_and_publishes_to_their_own_remote_with_only_conductor_credentials()
    {
        await using var room = await WorkspaceHttpRoom.StartAsync(postgres, redis, "unused.git", "unused");
        var server = room.Alice.BaseAddress.ToString().TrimEnd('/');
        using var cli = new CliProcess("carol");

        // The user's own remote (standing in for GitHub) and their clone of it.
        var origin = TestGit.CreateRemote(cli.Home, "origin.git");
        using var git = new GitClient("carol-git");
        git.Ok(cli.Home, "clone", "--quiet", origin, Path.Combine(cli.Home, "project"));
        var project = Path.Combine(cli.Home, "project");
        // The user's git host credentials, as sentinels: in their real remote's URL and in their credential helper.
        // Neither may ever reach the server (its files, logs, Redis or Postgres).
        var sentinelInUrl = "ghp_url" + Guid.NewGuid().ToString("N");
        var sentinelInHelper = "ghp_helper" + Guid.NewGuid().ToString("N");
        git.Ok(project, "remote", "add", "github", $"https://carol:{sentinelInUrl}@github.invalid/carol/project.git");
        git.Ok(project, "config", "credential.https://github.invalid.helper", $"!f() {{ echo username=carol; echo password={sentinelInHelper}; }}; f");

        var notSignedIn = await cli.RunAsync(project, null, "whoami", "--server", server);
        Assert.Equal(3, notSignedIn.ExitCode);

        var login = await cli.JsonAsync(project, "login", "--server", server, "--dev", "carol-" + Guid.NewGuid().ToString("N")[..8]);
        var carolLogin = login.GetProperty("login").GetString()!;
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(cli.SessionFile));
        Assert.Equal(carolLogin, (await cli.JsonAsync(project, "whoami")).GetProperty("login").GetString());
        var token = JsonDocument.Parse(File.ReadAllText(cli.SessionFile)).RootElement.GetProperty("access_token").GetString()!;

        JsonElement up;
        await using (var watcher = new ProcessListingWatcher(token))
        {
            up = await cli.JsonAsync(project, "up", "--name", "cli room");
            await watcher.DisposeAsync();
            Assert.Empty(watcher.Leaks);
        }
        var roomId = up.GetProperty("room_id").GetGuid();
        Assert.Equal("ready", up.GetProperty("workspace_status").GetString());
        Assert.Equal(roomId.ToString(), git.Ok(project, "config", "--get", "conductor.room").Trim());
        Assert.Equal($"{server}/git/{roomId}.git", git.Ok(project, "remote", "get-url", "conductor").Trim());

        // A teammate joins from the invite and edits in their own worktree in the room, then syncs.
        var inviteToken = up.GetProperty("invite_token").GetString()!;
        await ApiClient.ExpectAsync(await room.Bob.PostAsync("/rooms/join", new { token = inviteToken }), HttpStatusCode.OK);
        await ApiClient.ExpectAsync(await room.Bob.SendAsync(new HttpRequestMessage(HttpMethod.Put, $"/workspace/{roomId}/file?path=team.txt&worktree=me")
        { Content = JsonContent.Create(new { content = "from the team\n" }) }), HttpStatusCode.OK);
        var teamSync = await ApiClient.ExpectAsync(await room.Bob.PostAsync($"/workspace/{roomId}/sync", new { message = "Team note" }), HttpStatusCode.OK);
        Assert.Equal("fast_forward", teamSync.GetProperty("status").GetString());

        // Chat: a line typed, then the room's history has it.
        var chat = await cli.RunAsync(project, "hello from the terminal\n", "chat", "--json");
        Assert.True(chat.ExitCode == 0, chat.Error);
        Assert.Contains("hello from the terminal", chat.Output, StringComparison.Ordinal);
        var history = await ApiClient.ExpectAsync(await room.Bob.GetAsync($"/chat/{roomId}/history?limit=10"), HttpStatusCode.OK);
        Assert.Contains("hello from the terminal", history.GetRawText(), StringComparison.Ordinal);

        // The user's own edit, then sync: both sides land and the clone has the teammate's file.
        File.AppendAllText(Path.Combine(project, "README.md"), "A line from carol\n");
        JsonElement synced;
        await using (var watcher = new ProcessListingWatcher(token))
        {
            synced = await cli.JsonAsync(project, "sync", "-m", "Carol's README line");
            await watcher.DisposeAsync();
            Assert.Empty(watcher.Leaks);
        }
        Assert.Equal("merged", synced.GetProperty("status").GetString());
        Assert.Equal("from the team\n", File.ReadAllText(Path.Combine(project, "team.txt")));
        Assert.Equal(synced.GetProperty("head_commit").GetString(), git.Ok(project, "rev-parse", "HEAD").Trim());

        var status = await cli.JsonAsync(project, "status");
        Assert.Equal(0, status.GetProperty("ahead").GetInt32());
        Assert.Equal(0, status.GetProperty("behind").GetInt32());
        File.AppendAllText(Path.Combine(project, "team.txt"), "carol was here\n");
        var diff = await cli.JsonAsync(project, "diff");
        Assert.Contains("+carol was here", diff.GetProperty("patch").GetString(), StringComparison.Ordinal);
        git.Ok(project, "checkout", "--", "team.txt");

        var watch = await cli.JsonAsync(project, "watch", "--once");
        Assert.Contains(watch.GetProperty("members").EnumerateArray(), m => m.GetProperty("login").GetString() == room.BobLogin);
        Assert.Contains(watch.GetProperty("activity").EnumerateArray(), a => a.GetString()!.StartsWith("synced", StringComparison.Ordinal));

        // Publish: sync, then the user's machine pushes to the user's remote.
        var published = await cli.JsonAsync(project, "publish");
        Assert.True(published.GetProperty("pushed").GetBoolean());
        Assert.Equal(git.Ok(project, "rev-parse", "HEAD").Trim(), TestGit.Run(origin, "rev-parse", "main").Trim());
        Assert.Contains("team.txt", TestGit.Run(origin, "ls-tree", "--name-only", "main"), StringComparison.Ordinal);

        // The token is nowhere on disk but the 0600 session file: not in the clone's config, not on the server's volume.
        var refresh = JsonDocument.Parse(File.ReadAllText(cli.SessionFile)).RootElement.GetProperty("refresh_token").GetString()!;
        foreach (var secret in new[] { token, refresh })
        {
            Assert.DoesNotContain(FilesContaining(cli.Home, secret), f => f != cli.SessionFile);
            Assert.Empty(FilesContaining(room.Env.Root, secret));
        }
        Assert.DoesNotContain(token, await room.Env.DumpTablesAsync("workspaces", "workspace_credentials", "audit_log", "jobs"), StringComparison.Ordinal);

        // Token hygiene: the user's git host credentials never reached the server, anywhere it keeps anything.
        var tables = await room.Env.DumpAllTablesAsync();
        var redisDump = await room.Env.DumpRedisAsync();
        var logs = room.Api.Output + "\n" + string.Join("\n", room.Env.Workers.Select(w => w.Output)) + "\n" + room.Env.Diagnostics;
        Assert.Contains(carolLogin, tables, StringComparison.Ordinal); // the dump is of the right database
        foreach (var sentinel in new[] { sentinelInUrl, sentinelInHelper })
        {
            Assert.Empty(FilesContaining(room.Env.Root, sentinel));
            Assert.DoesNotContain(sentinel, tables, StringComparison.Ordinal);
            Assert.DoesNotContain(sentinel, redisDump, StringComparison.Ordinal);
            Assert.DoesNotContain(sentinel, logs, StringComparison.Ordinal);
        }
        // The Conductor tokens are in none of them either (the Api's own tables hold only hashes of refresh tokens).
        foreach (var secret in new[] { token, refresh })
        {
            Assert.DoesNotContain(secret, tables, StringComparison.Ordinal);
            Assert.DoesNotContain(secret, redisDump, StringComparison.Ordinal);
            Assert.DoesNotContain(secret, logs, StringComparison.Ordinal);
        }

        // Logout revokes the session on the server and deletes the file.
        var logout = await cli.JsonAsync(project, "logout");
        Assert.True(logout.GetProperty("revoked").GetBoolean());
        Assert.False(File.Exists(cli.SessionFile));
        using var anonymous = new ApiClient(room.Alice.BaseAddress);
        await ApiClient.ExpectProblemAsync(await anonymous.PostAsync("/auth/refresh", new { refresh_token = refresh }), HttpStatusCode.Unauthorized);
        // The access token read from the file earlier (a copy made before logout) is refused at once as well.
        using var copied = new ApiClient(room.Alice.BaseAddress, token);
        await ApiClient.ExpectProblemAsync(await copied.GetAsync("/auth/me"), HttpStatusCode.Unauthorized);
        Assert.Equal(3, (await cli.RunAsync(project, null, "sync")).ExitCode);
    }

    private static IEnumerable<string> FilesContaining(string root, string secret)
    {
        var needle = System.Text.Encoding.UTF8.GetBytes(secret);
        foreach (var file in Directory.EnumerateFiles(root, "*", new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = 0, IgnoreInaccessible = true }))
        {
            var info = new FileInfo(file);
            if (info.LinkTarget is null && info.Length < 50_000_000 && File.ReadAllBytes(file).AsSpan().IndexOf(needle) >= 0)
            {
                yield return file;
            }
        }
    }
}
