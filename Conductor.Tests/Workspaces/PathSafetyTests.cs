using Conductor.Tests.Infrastructure;
using Conductor.Workspaces;
using Conductor.Workspaces.Files;
using Microsoft.Extensions.DependencyInjection;

namespace Conductor.Tests.Workspaces;

/// <summary>
/// Every hostile path is refused with a 400 by every file operation, and nothing outside the worktree is read,
/// written, renamed or deleted: the folder beside the worktree is compared byte for byte afterwards.
/// </summary>
[Collection(InfrastructureCollection.Name)]
public sealed class PathSafetyTests(PostgresServerFixture postgres, RedisServerFixture redis)
{
    [Flags]
    public enum Ops { Read = 1, Write = 2, Delete = 4, RenameFrom = 8, RenameTo = 16, List = 32, All = 63, ReadWrite = Read | Write | List }

    public static TheoryData<string, string, Ops> Cases() => new()
    {
        { "parent", "../outside/secret.txt", Ops.All },
        { "nested parent", "src/../../outside/secret.txt", Ops.All },
        { "bare dot-dot", "..", Ops.All },
        { "dot segment", "./README.md", Ops.All },
        { "url-encoded separator", "..%2Foutside%2Fsecret.txt", Ops.All },
        { "url-encoded dots", "%2e%2e/outside/secret.txt", Ops.All },
        { "double-encoded", "%252e%252e%252foutside", Ops.ReadWrite },
        { "absolute", "/etc/passwd", Ops.All },
        { "absolute into outside", "{outside}/secret.txt", Ops.All },
        { "backslashes", "..\\outside\\secret.txt", Ops.All },
        { "backslash inside", "src\\app.cs", Ops.All },
        { "drive letter", "C:/Windows/win.ini", Ops.All },
        { "git config", ".git/config", Ops.All },
        { "git itself", ".git", Ops.All },
        { "git upper case", ".GIT/HEAD", Ops.All },
        { "nested git", "src/.git/config", Ops.All },
        { "NUL", "README.md\0.txt", Ops.All },
        { "control character", "bad\u0001name", Ops.All },
        { "empty segment", "src//app.cs", Ops.All },
        { "very long path", string.Join('/', Enumerable.Repeat(new string('a', 200), 25)), Ops.All },
        { "very long segment", new string('b', 300), Ops.All },
        { "symlinked directory out", "escape/secret.txt", Ops.All },
        { "symlinked file out", "escape-file", Ops.Read | Ops.Write },
        { "dangling symlink out", "dangling", Ops.Read | Ops.Write },
        { "symlink into .git", "gitlink/config", Ops.All },
        { "empty", "", Ops.Read | Ops.Write | Ops.Delete | Ops.RenameFrom | Ops.RenameTo },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task Every_hostile_path_is_refused_and_nothing_outside_is_touched(string name, string path, Ops ops)
    {
        await using var env = await WorkspaceTestEnvironment.CreateAsync(postgres, redis);
        await env.StartHostAsync();
        var roomId = await WorkspaceFixtures.CreateReadyWorkspaceAsync(env);
        var worktree = Path.Combine(env.Root, "worktrees", roomId.ToString("D"));
        var outside = Path.Combine(env.Root, "worktrees", "outside");
        Directory.CreateDirectory(outside);
        File.WriteAllText(Path.Combine(outside, "secret.txt"), "top secret\n");
        File.WriteAllText(Path.Combine(worktree, "README.md"), "inside\n");
        Directory.CreateDirectory(Path.Combine(worktree, "src"));
        File.WriteAllText(Path.Combine(worktree, "src", "app.cs"), "class App {}\n");
        File.CreateSymbolicLink(Path.Combine(worktree, "escape"), outside);
        File.CreateSymbolicLink(Path.Combine(worktree, "escape-file"), Path.Combine(outside, "secret.txt"));
        File.CreateSymbolicLink(Path.Combine(worktree, "dangling"), Path.Combine(outside, "created-through-link.txt"));
        File.CreateSymbolicLink(Path.Combine(worktree, "gitlink"), Path.Combine(worktree, ".git"));
        path = path.Replace("{outside}", outside, StringComparison.Ordinal);
        var before = Snapshot(outside);

        var files = env.Services.GetRequiredService<WorkspaceFileService>();
        var user = Guid.NewGuid();
        var attempts = new List<(Ops Op, Func<Task> Call)>
        {
            (Ops.Read, () => files.ReadAsync(roomId, path, CancellationToken.None)),
            (Ops.Write, () => files.WriteAsync(roomId, path, "pwned\n"u8.ToArray(), null, user, CancellationToken.None)),
            (Ops.Delete, () => files.DeleteAsync(roomId, path, user, CancellationToken.None)),
            (Ops.RenameFrom, () => files.RenameAsync(roomId, path, "moved.txt", user, CancellationToken.None)),
            (Ops.RenameTo, () => files.RenameAsync(roomId, "README.md", path, user, CancellationToken.None)),
            (Ops.List, () => files.ListAsync(roomId, path, recursive: true, CancellationToken.None)),
        };
        foreach (var (op, call) in attempts.Where(a => ops.HasFlag(a.Op)))
        {
            var refused = await Assert.ThrowsAsync<WorkspacePathException>(call);
            Assert.True(refused.Kind == WorkspaceErrorKind.Invalid, $"{name}: {op} was refused as {refused.Kind} ({refused.Message})");
        }

        Assert.Equal(before, Snapshot(outside));
        Assert.Equal("inside\n", File.ReadAllText(Path.Combine(worktree, "README.md")));
        Assert.False(File.Exists(Path.Combine(outside, "created-through-link.txt")));
        Assert.DoesNotContain("pwned", File.ReadAllText(Path.Combine(worktree, ".git", "config")), StringComparison.Ordinal);
    }

    private static string Snapshot(string directory) =>
        string.Join('\n', Directory.EnumerateFileSystemEntries(directory, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal)
            .Select(p => File.Exists(p) ? $"{p}={File.ReadAllText(p)}" : p));
}
