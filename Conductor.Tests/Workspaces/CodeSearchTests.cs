using System.Text;
using Conductor.Tests.Infrastructure;
using Conductor.Workspaces;
using Conductor.Workspaces.Git;
using Conductor.Workspaces.Search;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Conductor.Tests.Workspaces;

/// <summary>Search on a real git worktree: git decides what is ignored; results are exact and in path order.</summary>
public sealed class CodeSearchTests : IDisposable
{
    private readonly string _root = TestDirectories.Create("search");
    private readonly CodeSearch _search;

    public CodeSearchTests()
    {
        _search = new CodeSearch(new GitCli(Options.Create(new WorkspaceOptions { Root = _root }), NullLogger<GitCli>.Instance));
        TestGit.Run(_root, "init", "--quiet", "--initial-branch=main");
        Write(".gitignore", "build/\n*.log\n");
        Write("src/app.cs", "class App\n{\n    // TODO: remove Mutex_Lock\n    void Run() { mutex_lock(); }\n}\n");
        Write("src/lib.c", "int mutex_lock_nested(void);\nint x = MUTEX_LOCK;\n");
        Write("docs/readme.md", "Nothing here\r\nmutex_lock in docs\r\n");
        Write("build/out.c", "mutex_lock in an ignored folder\n");
        Write("debug.log", "mutex_lock in an ignored file\n");
        File.WriteAllBytes(Path.Combine(_root, "blob.bin"), [.. "mutex_lock"u8, 0, 1, 2]);
        File.WriteAllBytes(Path.Combine(_root, "latin1.txt"), [.. "caf"u8, 0xE9, .. " mutex_lock\n"u8]);
        Write("unicode.txt", "Ünïcödé straße mutex_lock\n");
        TestGit.Run(_root, "add", "src", "docs", ".gitignore");
        TestGit.Run(_root, "commit", "--quiet", "-m", "seed");
        // untracked and not ignored: searched too (latin1.txt, unicode.txt, blob.bin)
    }

    private void Write(string path, string text)
    {
        var full = Path.Combine(_root, path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        File.WriteAllText(full, text);
    }

    private Task<IReadOnlyList<SearchMatch>> Search(SearchQuery query) =>
        _search.SearchAsync(_root, CodeSearch.Prepare(query, TimeSpan.FromSeconds(1)), CancellationToken.None);

    [Fact]
    public async Task Case_insensitive_substring_by_default_skipping_ignored_and_binary_files_in_path_order()
    {
        var results = await Search(new SearchQuery("mutex_lock"));
        Assert.Equal(
        [
            "docs/readme.md:2:1:mutex_lock in docs",
            "latin1.txt:1:6:caf\uFFFD mutex_lock",
            "src/app.cs:3:21:// TODO: remove Mutex_Lock",
            "src/app.cs:4:18:void Run() { mutex_lock(); }",
            "src/lib.c:1:5:int mutex_lock_nested(void);",
            "src/lib.c:2:9:int x = MUTEX_LOCK;",
            "unicode.txt:1:16:Ünïcödé straße mutex_lock",
        ], results.Select(r => $"{r.FilePath}:{r.Line}:{r.Column}:{r.Content}"));
    }

    [Fact]
    public async Task Options_case_sensitive_whole_word_regex_include_exclude_and_max_results()
    {
        Assert.Equal(["src/lib.c:2"], Lines(await Search(new SearchQuery("MUTEX_LOCK") { CaseSensitive = true })));
        Assert.DoesNotContain("src/lib.c:1", Lines(await Search(new SearchQuery("mutex_lock") { WholeWord = true })));
        Assert.Equal(["src/app.cs:4", "src/lib.c:1"],
            Lines(await Search(new SearchQuery(@"mutex_lock\w*\(") { Regex = true, CaseSensitive = true })));
        Assert.Equal(["src/app.cs:3", "src/app.cs:4", "src/lib.c:1", "src/lib.c:2"], Lines(await Search(new SearchQuery("mutex_lock") { Include = ["src/**"] })));
        Assert.Equal(["src/lib.c:1", "src/lib.c:2"], Lines(await Search(new SearchQuery("mutex_lock") { Include = ["*.c"] })));
        Assert.Equal(["latin1.txt:1", "unicode.txt:1"], Lines(await Search(new SearchQuery("mutex_lock") { Exclude = ["src", "*.md"] })));
        Assert.Equal(["docs/readme.md:2", "latin1.txt:1"], Lines(await Search(new SearchQuery("mutex_lock") { MaxResults = 2 })));
        Assert.Empty(await Search(new SearchQuery("STRASSE"))); // ordinal case folding: ß is not SS
        Assert.Equal(["unicode.txt:1"], Lines(await Search(new SearchQuery("ÜNÏCÖDÉ"))));
    }

    [Fact]
    public async Task The_cap_holds_and_bad_queries_are_refused()
    {
        var many = new StringBuilder();
        for (var i = 0; i < 3000; i++)
        {
            many.Append("needle ").Append(i).Append('\n');
        }
        Write("many.txt", many.ToString());
        var capped = await Search(new SearchQuery("needle") { MaxResults = 5000 });
        Assert.Equal(CodeSearch.MaxResultsCap, capped.Count);
        Assert.Equal(Enumerable.Range(1, CodeSearch.MaxResultsCap), capped.Select(r => r.Line));

        Assert.Throws<SearchQueryException>(() => CodeSearch.Prepare(new SearchQuery(""), TimeSpan.FromSeconds(1)));
        Assert.Throws<SearchQueryException>(() => CodeSearch.Prepare(new SearchQuery("(unclosed") { Regex = true }, TimeSpan.FromSeconds(1)));
        Assert.Throws<SearchQueryException>(() => CodeSearch.Prepare(new SearchQuery("x") { MaxResults = 0 }, TimeSpan.FromSeconds(1)));
        Assert.Throws<SearchQueryException>(() => CodeSearch.Prepare(new SearchQuery("x") { Include = ["{a,b"] }, TimeSpan.FromSeconds(1)));

        // Catastrophic backtracking is stopped by the timeout, as a 400, not a hung request.
        Write("evil.txt", new string('a', 50_000) + "!\n");
        var evil = CodeSearch.Prepare(new SearchQuery("(a+)+$") { Regex = true, CaseSensitive = true, Include = ["evil.txt"] }, TimeSpan.FromMilliseconds(50));
        await Assert.ThrowsAsync<SearchQueryException>(() => _search.SearchAsync(_root, evil, CancellationToken.None));
    }

    [Fact]
    public async Task A_long_line_is_cut_around_the_match_and_symlinks_are_not_followed()
    {
        Write("long.min.js", new string('x', 5000) + "FINDME" + new string('y', 5000) + "\n");
        var outside = TestDirectories.Create("search-outside");
        File.WriteAllText(Path.Combine(outside, "secret.txt"), "FINDME outside\n");
        File.CreateSymbolicLink(Path.Combine(_root, "link.txt"), Path.Combine(outside, "secret.txt"));
        var results = await Search(new SearchQuery("findme"));
        var match = Assert.Single(results);
        Assert.Equal("long.min.js", match.FilePath);
        Assert.Equal(5001, match.Column);
        Assert.Equal(CodeSearch.MaxContentChars, match.Content.Length);
        Assert.Contains("FINDME", match.Content, StringComparison.Ordinal);
        TestDirectories.TryDelete(outside);
    }

    private static List<string> Lines(IReadOnlyList<SearchMatch> results) => [.. results.Select(r => $"{r.FilePath}:{r.Line}")];

    public void Dispose() => TestDirectories.TryDelete(_root);
}
