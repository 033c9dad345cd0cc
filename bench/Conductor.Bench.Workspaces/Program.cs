// Workspace git work through LibGit2Sharp (what the GitWorker runs) against the git CLI, on the same ~20k-file
// remote in the same run: first workspace (bare store + fetch + worktree) vs `git clone --bare`; a second room on the
// same remote (fetch + taking over the store's spare checkout; and, for reference, fetch + a full checkout, and the
// spare's own checkout, done after the first room is ready) vs a fresh `git clone`; both CLI clones use --no-local (the git transport, as
// libgit2 does, not hard links to the remote's objects); commit + push of 20 changed files vs git add/commit/push.
// Usage: dotnet run -c Release --project bench/Conductor.Bench.Workspaces [--files N] [--runs N]
using System.Diagnostics;
using Conductor.Workspaces.Git;
using LibGit2Sharp;

var files = ArgValue("--files", 20_000);
var runs = ArgValue("--runs", 3);
var root = Path.Combine(Path.GetTempPath(), $"conductor-bench-ws-{Guid.NewGuid():N}");
Directory.CreateDirectory(root);
try
{
    var remote = CreateRemote(Path.Combine(root, "remote.git"), files);
    LibGitStore.Isolate(Path.Combine(root, "tmp"));
    var first = new List<(double Ours, double Git)>();
    var second = new List<(double Ours, double Git)>();
    var push = new List<(double Ours, double Git)>();
    var secondFull = new List<(double Ours, double Git)>();
    var spares = new List<(double Ours, double Git)>();
    var loadBefore = File.ReadAllText("/proc/loadavg").Split(' ')[0];
    // Run 0 is a warm-up (JIT, loading libgit2, the page cache) and is not counted.
    for (var run = 0; run <= runs; run++)
    {
        var counted = run > 0;
        var dir = Path.Combine(root, $"run{run}");
        Directory.CreateDirectory(dir);
        var store = Path.Combine(dir, "store.git");

        var ours1 = Time(() =>
        {
            LibGitStore.InitStore(store, remote);
            LibGitStore.Fetch(store, null, "x", null, _ => { }, CancellationToken.None);
            LibGitStore.AddWorktree(store, "room-a", Path.Combine(dir, "room-a"), "session/room-a", LibGitStore.RemoteBranchCommit(store, "main")!);
        });
        var git1 = Time(() => Git(dir, "clone", "--quiet", "--no-local", "--bare", remote, Path.Combine(dir, "cli-bare.git")));
        if (counted)
        {
            first.Add((ours1, git1));
        }

        // After room A is ready the GitWorker checks out the store's spare (no user waits for it); room B takes it over.
        var commit = LibGitStore.RemoteBranchCommit(store, "main")!;
        var spare = Time(() => LibGitStore.AddSpare(store, Path.Combine(dir, ".spare"), commit));
        var ours2 = Time(() =>
        {
            LibGitStore.Fetch(store, null, "x", null, _ => { }, CancellationToken.None);
            _ = LibGitStore.TryClaimSpare(store, Path.Combine(dir, ".spare"), "room-b", Path.Combine(dir, "room-b"), "session/room-b",
                LibGitStore.RemoteBranchCommit(store, "main")!) ?? throw new InvalidOperationException("no spare to take over");
        });
        // The same without a spare (what every second room paid before): fetch + a full checkout.
        var ours2Full = Time(() =>
        {
            LibGitStore.Fetch(store, null, "x", null, _ => { }, CancellationToken.None);
            LibGitStore.AddWorktree(store, "room-c", Path.Combine(dir, "room-c"), "session/room-c", LibGitStore.RemoteBranchCommit(store, "main")!);
        });
        var git2 = Time(() => Git(dir, "clone", "--quiet", "--no-local", remote, Path.Combine(dir, "cli-clone")));
        if (counted)
        {
            second.Add((ours2, git2));
            secondFull.Add((ours2Full, git2));
            spares.Add((spare, git2));
        }

        Edit(Path.Combine(dir, "room-a"), run);
        Edit(Path.Combine(dir, "cli-clone"), run);
        var when = DateTimeOffset.UtcNow;
        var ours3 = Time(() =>
        {
            LibGitStore.CommitAll(Path.Combine(dir, "room-a"), "bench", new Signature("bench", "bench@example.invalid", when), new Signature("bench", "bench@example.invalid", when));
            if (LibGitStore.Push(store, "session/room-a", null, "x", null, CancellationToken.None) is { } error)
            {
                throw new InvalidOperationException(error);
            }
        });
        var cli = Path.Combine(dir, "cli-clone");
        Git(cli, "checkout", "--quiet", "-b", "session/cli");
        var git3 = Time(() =>
        {
            Git(cli, "add", "--all");
            Git(cli, "-c", "user.name=bench", "-c", "user.email=bench@example.invalid", "commit", "--quiet", "-m", "bench");
            Git(cli, "push", "--quiet", "origin", "session/cli");
        });
        if (counted)
        {
            push.Add((ours3, git3));
        }
        Git(remote, "branch", "-D", "session/room-a", "session/cli");
        Directory.Delete(dir, recursive: true);
    }
    var loadAfter = File.ReadAllText("/proc/loadavg").Split(' ')[0];
    Console.WriteLine($"Workspaces bench: {files} files, {runs} runs after a warm-up, medians in ms; 1-minute load average {loadBefore} before, {loadAfter} after");
    Console.WriteLine("| step | LibGit2Sharp (ours) | git CLI | ours/git |");
    Console.WriteLine("| --- | ---: | ---: | ---: |");
    Row("first workspace (store + fetch + worktree) vs `git clone --no-local --bare`", first);
    Row("second room (fetch + spare taken over) vs a fresh `git clone --no-local`", second);
    Row("second room without a spare (fetch + full checkout) vs the same clone", secondFull);
    Row("spare checkout, after the first room is ready (no one waits) vs the same clone", spares);
    Row("commit + push of 20 changed files vs git add/commit/push", push);
    var (secondOurs, secondGit) = (Median(second.Select(s => s.Ours)), Median(second.Select(s => s.Git)));
    Console.WriteLine($"second room: {secondGit / secondOurs:F1}x faster than a fresh clone (goal: 10x)");
}
finally
{
    Directory.Delete(root, recursive: true);
}

static void Row(string name, List<(double Ours, double Git)> samples)
{
    var ours = Median(samples.Select(s => s.Ours));
    var git = Median(samples.Select(s => s.Git));
    Console.WriteLine($"| {name} | {ours:F0} | {git:F0} | {ours / git:F3} |");
}

static double Median(IEnumerable<double> values)
{
    var sorted = values.Order().ToArray();
    return sorted[sorted.Length / 2];
}

static double Time(Action action)
{
    var watch = Stopwatch.StartNew();
    action();
    return watch.Elapsed.TotalMilliseconds;
}

static void Edit(string worktree, int run)
{
    for (var i = 0; i < 20; i++)
    {
        File.AppendAllText(Path.Combine(worktree, $"src/d{i % 100:D3}/f{i:D5}.cs"), $"// edit {run}\n");
    }
}

static string CreateRemote(string bare, int files)
{
    var seed = bare + ".seed";
    Directory.CreateDirectory(seed);
    var random = new Random(7);
    for (var i = 0; i < files; i++)
    {
        var dir = Path.Combine(seed, "src", $"d{i % 100:D3}");
        Directory.CreateDirectory(dir);
        var lines = string.Join('\n', Enumerable.Range(0, 20 + random.Next(40)).Select(l => $"    // line {l} of file {i}: {random.Next()}"));
        File.WriteAllText(Path.Combine(dir, $"f{i:D5}.cs"), $"class F{i}\n{{\n{lines}\n}}\n");
    }
    Git(seed, "init", "--quiet", "--initial-branch=main");
    Git(seed, "add", "--all");
    Git(seed, "-c", "user.name=bench", "-c", "user.email=bench@example.invalid", "commit", "--quiet", "-m", "initial");
    Git(Path.GetDirectoryName(bare)!, "clone", "--quiet", "--bare", seed, bare);
    Directory.Delete(seed, recursive: true);
    return bare;
}

static void Git(string directory, params string[] arguments)
{
    var start = new ProcessStartInfo("git") { WorkingDirectory = directory, RedirectStandardError = true, RedirectStandardOutput = true };
    foreach (var argument in arguments)
    {
        start.ArgumentList.Add(argument);
    }
    start.Environment["GIT_CONFIG_NOSYSTEM"] = "1";
    start.Environment["GIT_CONFIG_GLOBAL"] = "/dev/null";
    using var process = Process.Start(start)!;
    var error = process.StandardError.ReadToEndAsync();
    process.StandardOutput.ReadToEnd();
    process.WaitForExit();
    if (process.ExitCode != 0)
    {
        throw new InvalidOperationException($"git {string.Join(' ', arguments)}: {error.Result}");
    }
}

int ArgValue(string name, int fallback)
{
    var index = Array.IndexOf(args, name);
    return index >= 0 && index + 1 < args.Length ? int.Parse(args[index + 1], System.Globalization.CultureInfo.InvariantCulture) : fallback;
}
