using System.Diagnostics;
using System.Globalization;
using Conductor.Workspaces;
using Conductor.Workspaces.Git;
using Conductor.Workspaces.Search;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

// Usage: dotnet run -c Release --project bench/Conductor.Bench.Search [corpus-folder]
// Without an argument the corpus is the Linux kernel from Debian's linux-source package, extracted once into
// bench/.cache (git-ignored) and committed into a git repository there, so all tools see the same file list.
var corpus = args.Length > 0 ? Path.GetFullPath(args[0]) : await PrepareKernelCorpusAsync();
var git = new GitCli(Options.Create(new WorkspaceOptions { Root = corpus }), NullLogger<GitCli>.Instance);
var search = new CodeSearch(git);
var rg = FindOnPath("rg");
const int Unlimited = int.MaxValue; // the API caps at 1000; the benchmark counts every match to compare with the others
const int Runs = 3;

var queries = new (string Name, SearchQuery Query, string[] GitArgs, string[] RgArgs)[]
{
    ("literal, case-insensitive: mutex_lock", new SearchQuery("mutex_lock") { MaxResults = Unlimited }, ["-i", "-F", "mutex_lock"], ["-i", "-F", "mutex_lock"]),
    ("literal, case-sensitive: EXPORT_SYMBOL_GPL", new SearchQuery("EXPORT_SYMBOL_GPL") { CaseSensitive = true, MaxResults = Unlimited }, ["-F", "EXPORT_SYMBOL_GPL"], ["-s", "-F", "EXPORT_SYMBOL_GPL"]),
    ("rare literal, case-insensitive: xyzzy_frobnicate", new SearchQuery("xyzzy_frobnicate") { MaxResults = Unlimited }, ["-i", "-F", "xyzzy_frobnicate"], ["-i", "-F", "xyzzy_frobnicate"]),
    ("whole word, case-sensitive: spin_lock", new SearchQuery("spin_lock") { CaseSensitive = true, WholeWord = true, MaxResults = Unlimited }, ["-w", "-F", "spin_lock"], ["-s", "-w", "-F", "spin_lock"]),
    ("regex: kmalloc\\(.*GFP_ATOMIC", new SearchQuery(@"kmalloc\(.*GFP_ATOMIC") { Regex = true, CaseSensitive = true, MaxResults = Unlimited }, ["-E", @"kmalloc\(.*GFP_ATOMIC"], ["-s", @"kmalloc\(.*GFP_ATOMIC"]),
    ("default API query (max_results=50): mutex_lock", new SearchQuery("mutex_lock"), ["-i", "-F", "-m", "1", "mutex_lock"], ["-i", "-F", "-m", "1", "mutex_lock"]),
};

var files = await search.ListFilesAsync(corpus, CancellationToken.None);
Console.WriteLine($"corpus: {corpus} ({files.Count:N0} files), {Environment.ProcessorCount} cores, best of {Runs} runs");
Console.WriteLine($"{"query",-50} {"ours ms",9} {"git grep ms",12} {"rg ms",8} {"ours/git",9} {"results ours/git/rg",22}");
foreach (var (name, query, gitArgs, rgArgs) in queries)
{
    var prepared = CodeSearch.Prepare(query, TimeSpan.FromSeconds(30), maxResultsCap: Unlimited);
    var (ours, ourCount) = await BestAsync(async () => (await search.SearchAsync(corpus, prepared, CancellationToken.None)).Count);
    // git grep and rg print one line per matching line; -I skips binary files as we do.
    var (theirs, gitCount) = await BestAsync(() => CountLinesAsync("git", ["-c", "grep.threads=" + Environment.ProcessorCount, "grep", "-I", "-n", "--untracked", .. gitArgs], corpus));
    var (rgTime, rgCount) = rg is null ? (TimeSpan.Zero, -1) : await BestAsync(() => CountLinesAsync(rg, ["-n", "--no-heading", "--no-config", .. rgArgs], corpus));
    var limited = query.MaxResults != Unlimited ? " (ours stops at 50; git/rg: first match per file)" : "";
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"{name,-50} {ours.TotalMilliseconds,9:F0} {theirs.TotalMilliseconds,12:F0} {(rg is null ? "n/a" : rgTime.TotalMilliseconds.ToString("F0", CultureInfo.InvariantCulture)),8} {ours / theirs,9:F2} {$"{ourCount}/{gitCount}/{(rg is null ? "n/a" : rgCount)}",22}{limited}"));
}

static async Task<(TimeSpan, int)> BestAsync(Func<Task<int>> run)
{
    var best = TimeSpan.MaxValue;
    var count = 0;
    for (var i = 0; i < Runs; i++)
    {
        var watch = Stopwatch.StartNew();
        count = await run();
        best = watch.Elapsed < best ? watch.Elapsed : best;
    }
    return (best, count);
}

static async Task<int> CountLinesAsync(string program, string[] arguments, string directory)
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
        lines += buffer.AsSpan(0, read).Count((byte)'\n');
    }
    await process.WaitForExitAsync();
    return lines;
}

static string? FindOnPath(string name) =>
    (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Select(d => Path.Combine(d, name)).FirstOrDefault(File.Exists);

static async Task<string> PrepareKernelCorpusAsync()
{
    var cache = Path.Combine(FindBenchFolder(), ".cache");
    var tarball = Directory.Exists("/usr/src") ? Directory.GetFiles("/usr/src", "linux-source-*.tar.xz").OrderDescending().FirstOrDefault() : null;
    if (tarball is null)
    {
        throw new InvalidOperationException("No corpus: install Debian's linux-source (apt-get install linux-source) or pass a folder.");
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
