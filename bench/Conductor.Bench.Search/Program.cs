using System.Diagnostics;
using System.Globalization;
using Conductor.Workspaces;
using Conductor.Workspaces.Git;
using Conductor.Workspaces.Search;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

// Usage: dotnet run -c Release --project bench/Conductor.Bench.Search [corpus-folder] [--runs N]
// Without a folder the corpus is the Linux kernel from Debian's linux-source package, extracted once into
// bench/.cache (git-ignored) and committed into a git repository there, so all tools see the same file list.
// Each run times the indexed search (SearchIndexes, what the Api serves), the scan (CodeSearch), git grep and rg back
// to back (interleaved), so a burst of load from other work on the machine hits all alike; the table shows the median
// and the best of the runs. Before the table: the index's build time and size, the time to load it again, and the time
// from a file write (recorded as the Api records it) to the first query that finds it.
var runsAt = Array.IndexOf(args, "--runs");
var runs = runsAt >= 0 ? int.Parse(args[runsAt + 1], CultureInfo.InvariantCulture) : 5;
var positional = args.Where((a, i) => a != "--runs" && (runsAt < 0 || i != runsAt + 1)).ToArray();
var corpus = positional.Length > 0 ? Path.GetFullPath(positional[0]) : await PrepareKernelCorpusAsync();
var git = new GitCli(Options.Create(new WorkspaceOptions { Root = corpus }), NullLogger<GitCli>.Instance);
var search = new CodeSearch(git);
// No background staleness sweep during the runs (it is not part of a query's cost; see docs/workspaces.md).
var indexOptions = Options.Create(new WorkspaceOptions { Root = corpus, SearchIndexMaxStaleness = TimeSpan.FromHours(1) });
var rg = FindOnPath("rg");
const int Unlimited = int.MaxValue; // the API caps at 1000; the benchmark counts every match to compare with the others

var queries = new (string Name, SearchQuery Query, string[] GitArgs, string[] RgArgs)[]
{
    ("literal, case-insensitive: mutex_lock", new SearchQuery("mutex_lock") { MaxResults = Unlimited }, ["-i", "-F", "mutex_lock"], ["-i", "-F", "mutex_lock"]),
    ("literal, case-sensitive: EXPORT_SYMBOL_GPL", new SearchQuery("EXPORT_SYMBOL_GPL") { CaseSensitive = true, MaxResults = Unlimited }, ["-F", "EXPORT_SYMBOL_GPL"], ["-s", "-F", "EXPORT_SYMBOL_GPL"]),
    ("rare literal, case-insensitive: xyzzy_frobnicate", new SearchQuery("xyzzy_frobnicate") { MaxResults = Unlimited }, ["-i", "-F", "xyzzy_frobnicate"], ["-i", "-F", "xyzzy_frobnicate"]),
    ("whole word, case-sensitive: spin_lock", new SearchQuery("spin_lock") { CaseSensitive = true, WholeWord = true, MaxResults = Unlimited }, ["-w", "-F", "spin_lock"], ["-s", "-w", "-F", "spin_lock"]),
    ("regex: kmalloc\\(.*GFP_ATOMIC", new SearchQuery(@"kmalloc\(.*GFP_ATOMIC") { Regex = true, CaseSensitive = true, MaxResults = Unlimited }, ["-E", @"kmalloc\(.*GFP_ATOMIC"], ["-s", @"kmalloc\(.*GFP_ATOMIC"]),
    ("default API query (max_results=50): mutex_lock", new SearchQuery("mutex_lock"), ["-i", "-F", "-m", "1", "mutex_lock"], ["-i", "-F", "-m", "1", "mutex_lock"]),
};

Console.WriteLine($"command: dotnet run -c Release --project bench/Conductor.Bench.Search -- {string.Join(' ', args)}".TrimEnd());
var files = await search.ListFilesAsync(corpus, CancellationToken.None);
Console.WriteLine($"corpus: {corpus} ({files.Count:N0} files), {Environment.ProcessorCount} cores, load average {LoadAverage()}, {runs} interleaved runs, median (best) ms");

// The index: built from nothing, then loaded again by a fresh instance (as after an Api restart: load plus a sweep
// comparing every file's size and time), then kept current through one write at a time.
SearchIndexes.DeleteIndex(corpus);
var watch = Stopwatch.StartNew();
var indexes = new SearchIndexes(search, indexOptions, TimeProvider.System, NullLogger<SearchIndexes>.Instance);
var statistics = await indexes.EnsureReadyAsync(corpus, CancellationToken.None);
Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
    $"index build: {watch.Elapsed.TotalSeconds:F1} s for {statistics.Files:N0} files; index size {statistics.IndexBytes / 1048576.0:F0} MiB in memory ({100.0 * statistics.IndexBytes / CorpusBytes(corpus, files):F0} % of the files' bytes) + content store {statistics.ContentBytes / 1048576.0:F0} MiB mapped from disk, in {SearchIndexes.IndexDirectory(corpus)}"));
watch.Restart();
indexes = new SearchIndexes(search, indexOptions, TimeProvider.System, NullLogger<SearchIndexes>.Instance);
await indexes.EnsureReadyAsync(corpus, CancellationToken.None);
Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"index load by a new instance (read + sweep of every file's size and time): {watch.Elapsed.TotalMilliseconds:F0} ms"));
var reflect = new List<double>();
for (var i = 0; i < runs; i++)
{
    var probe = $"bench-probe-{i}.c";
    var token = $"conductor_probe_{Guid.NewGuid():N}";
    var probeQuery = CodeSearch.Prepare(new SearchQuery(token), TimeSpan.FromSeconds(30));
    watch.Restart();
    await File.WriteAllTextAsync(Path.Combine(corpus, probe), $"int {token};\n");
    SearchIndexes.RecordChanges(corpus, probe); // what WorkspaceFileService does after each write
    var found = (await indexes.SearchAsync(corpus, probeQuery, CancellationToken.None)).Count;
    reflect.Add(watch.Elapsed.TotalMilliseconds);
    File.Delete(Path.Combine(corpus, probe));
    SearchIndexes.RecordChanges(corpus, probe);
    if (found != 1 || (await indexes.SearchAsync(corpus, probeQuery, CancellationToken.None)).Count != 0)
    {
        throw new InvalidOperationException("The index did not reflect a write.");
    }
}
Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"a new file written to the first query that finds it (write + journal + git ls-files for the path + query): median {reflect.Order().ElementAt(reflect.Count / 2):F0} ms (best {reflect.Min():F0})"));
// The common case: an edit of a file the index holds (no git needed).
const string Edited = "kernel/sched/core.c";
var original = await File.ReadAllBytesAsync(Path.Combine(corpus, Edited));
reflect.Clear();
for (var i = 0; i < runs; i++)
{
    var token = $"conductor_probe_{Guid.NewGuid():N}";
    var probeQuery = CodeSearch.Prepare(new SearchQuery(token), TimeSpan.FromSeconds(30));
    watch.Restart();
    await File.WriteAllBytesAsync(Path.Combine(corpus, Edited), [.. original, .. System.Text.Encoding.UTF8.GetBytes($"// {token}\n")]);
    SearchIndexes.RecordChanges(corpus, Edited);
    var found = (await indexes.SearchAsync(corpus, probeQuery, CancellationToken.None)).Count;
    reflect.Add(watch.Elapsed.TotalMilliseconds);
    await File.WriteAllBytesAsync(Path.Combine(corpus, Edited), original);
    SearchIndexes.RecordChanges(corpus, Edited);
    if (found != 1 || (await indexes.SearchAsync(corpus, probeQuery, CancellationToken.None)).Count != 0)
    {
        throw new InvalidOperationException("The index did not reflect an edit.");
    }
}
Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"an edit of {Edited} to the first query that finds it (write + journal + re-read + query): median {reflect.Order().ElementAt(reflect.Count / 2):F0} ms (best {reflect.Min():F0})"));
Console.WriteLine();
Console.WriteLine($"{"query",-50} {"index",13} {"scan",13} {"git grep",13} {"rg",13} {"git/index",12} {"scan/git",12} {"CPU ms index/git",20} {"results index/scan/git/rg",26}");

// The file listing alone (part of every search): ours lists the index and the untracked files concurrently.
await RowAsync("file listing only (git ls-files)",
    null,
    async () => (await search.ListFilesAsync(corpus, CancellationToken.None)).Count,
    () => CountAsync("git", ["ls-files", "-z", "--cached", "--others", "--exclude-standard", "--deduplicate"], corpus, 0),
    null,
    " (ours leaves out symlinks and submodules, from the index modes)");
foreach (var (name, query, gitArgs, rgArgs) in queries)
{
    var prepared = CodeSearch.Prepare(query, TimeSpan.FromSeconds(30), maxResultsCap: Unlimited);
    // git grep and rg print one line per matching line; -I skips binary files as we do.
    var note = query.MaxResults != Unlimited ? " (ours stops at 50; git/rg: first match per file)"
        : query.WholeWord ? " (git grep -w: only ASCII letters, digits and _ are word characters; ours and rg: Unicode letters too, so no match in e.g. 下一个spin_lock())"
        : "";
    var indexed = await indexes.SearchAsync(corpus, prepared, CancellationToken.None);
    var scanned = await search.SearchAsync(corpus, prepared, CancellationToken.None);
    if (!indexed.SequenceEqual(scanned))
    {
        throw new InvalidOperationException($"{name}: the indexed search gave {indexed.Count} results, the scan {scanned.Count}, or other ones.");
    }
    var candidates = await indexes.CandidatesAsync(corpus, prepared, CancellationToken.None);
    Console.WriteLine(candidates is null ? $"  ({name}: no usable literal, the scan answers)"
        : string.Create(CultureInfo.InvariantCulture, $"  ({name}: the index narrows the search to {candidates.Count:N0} files, {CorpusBytes(corpus, [.. candidates.Select(c => c.Path)]) / 1048576.0:F0} MiB)"));
    await RowAsync(name,
        async () => (await indexes.SearchAsync(corpus, prepared, CancellationToken.None)).Count,
        async () => (await search.SearchAsync(corpus, prepared, CancellationToken.None)).Count,
        () => CountAsync("git", ["-c", "grep.threads=" + Environment.ProcessorCount, "grep", "-I", "-n", "--untracked", .. gitArgs], corpus, (byte)'\n'),
        rg is null ? null : () => CountAsync(rg, ["-n", "--no-heading", "--no-config", .. rgArgs], corpus, (byte)'\n'),
        note);
}

Console.WriteLine($"load average at the end: {LoadAverage()}");

async Task RowAsync(string name, Func<Task<int>>? index, Func<Task<int>> scan, Func<Task<int>> theirs, Func<Task<int>>? ripgrep, string note)
{
    var times = new List<double>[] { [], [], [], [] };
    var cpu = new List<double>[] { [], [], [], [] }; // CPU ms: ours in this process, git grep's and rg's as waited-for children
    var counts = new int[] { -1, 0, 0, -1 };
    var tools = new[] { index, scan, theirs, ripgrep };
    for (var i = 0; i < runs; i++)
    {
        for (var t = 0; t < tools.Length; t++)
        {
            if (tools[t] is { } tool)
            {
                var cpuBefore = CpuMilliseconds(external: t >= 2);
                var watch = Stopwatch.StartNew();
                counts[t] = await tool();
                times[t].Add(watch.Elapsed.TotalMilliseconds);
                cpu[t].Add(CpuMilliseconds(external: t >= 2) - cpuBefore);
            }
        }
    }
    static double Median(List<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted.Count == 0 ? double.NaN : sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[sorted.Count / 2 - 1] + sorted[sorted.Count / 2]) / 2;
    }
    string Cell(List<double> values) => values.Count == 0 ? "n/a" : string.Create(CultureInfo.InvariantCulture, $"{Median(values):F0} ({values.Min():F0})");
    string Ratio(List<double> a, List<double> b) => a.Count == 0 || b.Count == 0 ? "n/a"
        : string.Create(CultureInfo.InvariantCulture, $"{Median(a) / Median(b):F1} ({a.Min() / b.Min():F1})");
    string Count(int c) => c < 0 ? "n/a" : c.ToString(CultureInfo.InvariantCulture);
    string CpuRatio() => cpu[0].Count == 0 ? "n/a" : string.Create(CultureInfo.InvariantCulture, $"{Median(cpu[0]):F0}/{Median(cpu[2]):F0} = {Median(cpu[2]) / Math.Max(Median(cpu[0]), 1):F1}");
    Console.WriteLine($"{name,-50} {Cell(times[0]),13} {Cell(times[1]),13} {Cell(times[2]),13} {Cell(times[3]),13} {Ratio(times[2], times[0]),12} {Ratio(times[1], times[2]),12} {CpuRatio(),20} {$"{Count(counts[0])}/{Count(counts[1])}/{Count(counts[2])}/{Count(counts[3])}",26}{note}");
}

static async Task<int> CountAsync(string program, string[] arguments, string directory, byte separator)
{
    var start = new ProcessStartInfo(program) { WorkingDirectory = directory, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
    foreach (var argument in arguments)
    {
        start.ArgumentList.Add(argument);
    }
    using var process = Process.Start(start)!;
    _ = process.StandardError.ReadToEndAsync();
    var buffer = new byte[1 << 16];
    var lines = 0;
    int read;
    var stdout = process.StandardOutput.BaseStream;
    while ((read = await stdout.ReadAsync(buffer)) > 0)
    {
        lines += buffer.AsSpan(0, read).Count(separator);
    }
    await process.WaitForExitAsync();
    return lines;
}

// CPU time (user + system) of this process, or of its waited-for children (from /proc/self/stat, in clock ticks of
// 10 ms: fine for git grep's hundreds of ms). Unlike wall time it hardly depends on what else the machine runs.
static double CpuMilliseconds(bool external)
{
    if (!external)
    {
        return Process.GetCurrentProcess().TotalProcessorTime.TotalMilliseconds;
    }
    var stat = File.ReadAllText("/proc/self/stat");
    var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' '); // fields from the 3rd (state) on
    return (long.Parse(fields[13], CultureInfo.InvariantCulture) + long.Parse(fields[14], CultureInfo.InvariantCulture)) * 10.0; // cutime, cstime
}

static string LoadAverage() => File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "n/a";

static long CorpusBytes(string root, IReadOnlyList<string> files) =>
    files.Sum(f => new FileInfo(Path.Combine(root, f)) is { Exists: true } info && info.LinkTarget is null ? info.Length : 0);

static string? FindOnPath(string name) =>
    (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Select(d => Path.Combine(d, name)).FirstOrDefault(File.Exists);

static async Task<string> PrepareKernelCorpusAsync()
{
    var cache = Path.Combine(FindBenchFolder(), ".cache");
    var tarball = Directory.Exists("/usr/src") ? Directory.GetFiles("/usr/src", "linux-source-*.tar.xz").OrderDescending().FirstOrDefault() : null;
    if (tarball is null)
    {
        throw new InvalidOperationException("No corpus: install Debian's linux-source (as root: apt-get update && apt-get install -y linux-source; it puts /usr/src/linux-source-*.tar.xz) or pass a folder.");
    }
    var name = Path.GetFileName(tarball).Replace(".tar.xz", "", StringComparison.Ordinal);
    var tree = Path.Combine(cache, name);
    if (File.Exists(Path.Combine(tree, ".git", "conductor-bench-ready")))
    {
        return tree;
    }
    Console.WriteLine($"Extracting {tarball} into {cache} (once)...");
    Directory.CreateDirectory(cache);
    await RunAsync("tar", ["xf", tarball, "-C", cache], cache);
    // Debian's tarball ignores everything at its top level (for its packaging repository): drop that block so the
    // tree is the kernel's own, with the kernel's .gitignore.
    var gitignore = Path.Combine(tree, ".gitignore");
    var text = await File.ReadAllTextAsync(gitignore);
    var debian = text.IndexOf("#\n# Debian packaging", StringComparison.Ordinal);
    if (debian >= 0)
    {
        await File.WriteAllTextAsync(gitignore, text[..debian]);
    }
    await RunAsync("git", ["init", "--quiet"], tree);
    await RunAsync("git", ["add", "--all"], tree);
    await RunAsync("git", ["-c", "user.name=bench", "-c", "user.email=bench@example.invalid", "commit", "--quiet", "-m", "corpus"], tree);
    await File.WriteAllTextAsync(Path.Combine(tree, ".git", "conductor-bench-ready"), "");
    return tree;
}

static async Task RunAsync(string program, string[] arguments, string directory)
{
    var start = new ProcessStartInfo(program) { WorkingDirectory = directory, UseShellExecute = false };
    foreach (var argument in arguments)
    {
        start.ArgumentList.Add(argument);
    }
    using var process = Process.Start(start)!;
    await process.WaitForExitAsync();
    if (process.ExitCode != 0)
    {
        throw new InvalidOperationException($"{program} {string.Join(' ', arguments)} failed with {process.ExitCode}.");
    }
}

static string FindBenchFolder()
{
    for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
    {
        if (File.Exists(Path.Combine(directory.FullName, "Conductor.sln")))
        {
            return Path.Combine(directory.FullName, "bench");
        }
    }
    throw new InvalidOperationException("Conductor.sln not found above " + AppContext.BaseDirectory);
}
