using System.Text;
using Conductor.Tests.Infrastructure;
using Conductor.Workspaces;
using Conductor.Workspaces.Git;
using Conductor.Workspaces.Search;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Conductor.Tests.Workspaces;

/// <summary>
/// The trigram index must never change a search result: indexed answers are compared with the scan's on real git
/// worktrees, after every kind of change (journal records as the Api writes them, git operations, edits that bypass
/// both), with the index deleted, stale or damaged, and with writes racing queries.
/// </summary>
public sealed class SearchIndexTests : IDisposable
{
    private readonly string _root = TestDirectories.Create("search-index");
    private readonly string _worktree;
    private readonly CodeSearch _scan;
    private readonly FailingLogger _logger = new();

    public SearchIndexTests()
    {
        _worktree = Path.Combine(_root, "worktree");
        Directory.CreateDirectory(_worktree);
        _scan = new CodeSearch(new GitCli(Options.Create(new WorkspaceOptions { Root = _root }), NullLogger<GitCli>.Instance));
        TestGit.Run(_worktree, "init", "--quiet", "--initial-branch=main");
        TestGit.Run(_worktree, "config", "user.name", "Test");
        TestGit.Run(_worktree, "config", "user.email", "test@example.invalid");
    }

    public void Dispose() => TestDirectories.TryDelete(_root);

    private SearchIndexes NewIndexes(TimeSpan? maxStaleness = null) =>
        new(_scan, Options.Create(new WorkspaceOptions { Root = _root, SearchIndexMaxStaleness = maxStaleness ?? TimeSpan.FromHours(1) }), TimeProvider.System, _logger);

    private void Write(string path, string text) => WriteBytes(path, Encoding.UTF8.GetBytes(text));

    private void WriteBytes(string path, byte[] bytes)
    {
        var full = Path.Combine(_worktree, path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        File.WriteAllBytes(full, bytes);
    }

    private static PreparedSearch Query(string text, bool caseSensitive = false, bool regex = false, bool wholeWord = false,
        string[]? include = null, string[]? exclude = null, int max = CodeSearch.MaxResultsCap) =>
        CodeSearch.Prepare(new SearchQuery(text)
        {
            CaseSensitive = caseSensitive,
            Regex = regex,
            WholeWord = wholeWord,
            Include = include ?? [],
            Exclude = exclude ?? [],
            MaxResults = max,
        }, TimeSpan.FromSeconds(5));

    /// <summary>Asserts the indexed answer is the scan's, and returns it.</summary>
    private async Task<IReadOnlyList<SearchMatch>> SameAsScanAsync(SearchIndexes indexes, PreparedSearch query, string because = "")
    {
        IReadOnlyList<SearchMatch> indexed;
        try
        {
            indexed = await indexes.SearchAsync(_worktree, query, CancellationToken.None);
        }
        catch (SearchQueryException)
        {
            // A regular expression past its timeout: the scan must give up alike.
            await Assert.ThrowsAsync<SearchQueryException>(() => _scan.SearchAsync(_worktree, query, CancellationToken.None));
            return [];
        }
        if (query.IndexTrigrams.Length > 0)
        {
            Assert.NotNull(await indexes.CandidatesAsync(_worktree, query, CancellationToken.None)); // the index answered, not the scan
        }
        var scanned = await _scan.SearchAsync(_worktree, query, CancellationToken.None);
        Assert.True(scanned.SequenceEqual(indexed),
            $"{because}: indexed [{string.Join(", ", indexed.Select(Describe))}] but scanned [{string.Join(", ", scanned.Select(Describe))}]");
        return indexed;
    }

    private static string Describe(SearchMatch m) => $"{m.FilePath}:{m.Line}:{m.Column}";

    private static string[] Paths(IReadOnlyList<SearchMatch> matches) => [.. matches.Select(m => m.FilePath).Distinct()];

    [Fact]
    public async Task Indexed_results_equal_the_scan_over_a_varied_corpus_through_random_changes()
    {
        var random = new Random(20261126);
        string[] vocabulary = ["mutex_lock", "Mutex_Lock", "MUTEX", "spin_lock", "下一个spin_lock()", "straße", "STRASSE", "Ünïcödé",
            "café", "kmalloc(", "GFP_ATOMIC", "foo", "bar", "ab", "x", "\u212Aelvin", "ſpin", "İi", "_", " ", "  ", "\t", "\n", "\r\n", "(", ")", ".", "*"];
        string[] folders = ["", "src/", "src/deep/", "docs/", "ignored/", "üñí/"];
        string[] extensions = [".c", ".md", ".txt", ".log"];
        Write(".gitignore", "ignored/\n*.log\n");
        var names = new List<string>();

        string RandomText(int tokens)
        {
            var text = new StringBuilder();
            for (var t = 0; t < tokens; t++)
            {
                text.Append(vocabulary[random.Next(vocabulary.Length)]);
            }
            return text.ToString();
        }

        void WriteRandomFile(string name)
        {
            switch (random.Next(10))
            {
                case 0: // binary: a NUL early
                    WriteBytes(name, [.. Encoding.UTF8.GetBytes(RandomText(5)), 0, .. Encoding.UTF8.GetBytes(RandomText(5))]);
                    break;
                case 1: // invalid UTF-8 in the middle
                    WriteBytes(name, [.. Encoding.UTF8.GetBytes(RandomText(20)), 0xE9, 0xFF, .. Encoding.UTF8.GetBytes(RandomText(20))]);
                    break;
                case 2: // one huge line
                    Write(name, RandomText(5) + new string('y', 100_000) + RandomText(5).Replace("\n", "", StringComparison.Ordinal));
                    break;
                default:
                    Write(name, RandomText(random.Next(0, 200)));
                    break;
            }
        }

        for (var i = 0; i < 80; i++)
        {
            var name = folders[random.Next(folders.Length)] + "f" + i + extensions[random.Next(extensions.Length)];
            names.Add(name);
            WriteRandomFile(name);
        }
        TestGit.Run(_worktree, "add", "--all");
        TestGit.Run(_worktree, "commit", "--quiet", "-m", "seed");

        var indexes = NewIndexes();
        await indexes.EnsureReadyAsync(_worktree, CancellationToken.None);
        var usedIndex = 0;
        for (var round = 0; round < 6; round++)
        {
            for (var q = 0; q < 60; q++)
            {
                string text;
                var regex = random.Next(5) == 0;
                if (regex)
                {
                    string[] patterns = [@"mutex_\w+", @"kmalloc\(.*GFP", @"spin_lock\(\)", "foo|bar", @"[a-z]_lock", @"\d+", @"straße\b", @"(?i)mutex", @"ab.*ab", "Mu.ex_L"];
                    text = patterns[random.Next(patterns.Length)];
                }
                else
                {
                    var source = RandomText(3);
                    var start = random.Next(source.Length);
                    text = source.Substring(start, Math.Min(source.Length - start, random.Next(1, 12))).Replace("\n", "", StringComparison.Ordinal);
                    if (text.Length == 0 || text.Contains('\r', StringComparison.Ordinal))
                    {
                        text = vocabulary[random.Next(12)];
                    }
                }
                string[][] globs = [[], ["*.c"], ["src/**"], ["docs"], ["*.md", "*.txt"]];
                var query = Query(text, caseSensitive: random.Next(2) == 0, regex: regex, wholeWord: random.Next(4) == 0,
                    include: random.Next(4) == 0 ? globs[random.Next(globs.Length)] : null,
                    exclude: random.Next(4) == 0 ? globs[random.Next(globs.Length)] : null,
                    max: new[] { 1, 3, 50, 1000 }[random.Next(4)]);
                usedIndex += query.IndexTrigrams.Length > 0 ? 1 : 0;
                await SameAsScanAsync(indexes, query, $"round {round}, query '{text}'");
            }

            // Change things as the Api (recorded), git (no record) and an editor followed by a git operation would.
            for (var c = 0; c < 10; c++)
            {
                var name = names[random.Next(names.Count)];
                switch (random.Next(4))
                {
                    case 0:
                        WriteRandomFile(name);
                        SearchIndexes.RecordChanges(_worktree, name);
                        break;
                    case 1:
                        File.Delete(Path.Combine(_worktree, name));
                        SearchIndexes.RecordChanges(_worktree, name);
                        break;
                    case 2:
                        var added = "new/" + Guid.NewGuid().ToString("N")[..6] + extensions[random.Next(extensions.Length)];
                        names.Add(added);
                        WriteRandomFile(added);
                        SearchIndexes.RecordChanges(_worktree, added);
                        break;
                    default:
                        WriteRandomFile(name); // not recorded: the commit below rewrites git's index, which the index notices
                        break;
                }
            }
            TestGit.Run(_worktree, "add", "--all");
            TestGit.Run(_worktree, "commit", "--quiet", "--allow-empty", "-m", $"round {round}");
        }
        Assert.True(usedIndex > 150, $"only {usedIndex} queries could use the index");
        Assert.Empty(_logger.Warnings);
    }

    [Fact]
    public async Task Writes_recorded_as_the_api_records_them_are_found_by_the_next_query()
    {
        Write(".gitignore", "build/\n");
        Write("src/a.c", "int alpha_token;\n");
        Write("src/b.c", "int beta_token;\n");
        TestGit.Run(_worktree, "add", "--all");
        TestGit.Run(_worktree, "commit", "--quiet", "-m", "seed");
        var indexes = NewIndexes();
        await indexes.EnsureReadyAsync(_worktree, CancellationToken.None);
        Assert.Equal(["src/a.c"], Paths(await SameAsScanAsync(indexes, Query("alpha_token"))));

        Write("src/a.c", "int gamma_token;\n");
        SearchIndexes.RecordChanges(_worktree, "src/a.c");
        Assert.Empty(await SameAsScanAsync(indexes, Query("alpha_token"), "changed file, old text"));
        Assert.Equal(["src/a.c"], Paths(await SameAsScanAsync(indexes, Query("gamma_token"), "changed file, new text")));

        Write("new/c.c", "int gamma_token;\n");
        SearchIndexes.RecordChanges(_worktree, "new/c.c");
        Assert.Equal(["new/c.c", "src/a.c"], Paths(await SameAsScanAsync(indexes, Query("gamma_token"), "an untracked file")));

        Write("build/out.c", "int gamma_token;\n");
        SearchIndexes.RecordChanges(_worktree, "build/out.c");
        Assert.Equal(["new/c.c", "src/a.c"], Paths(await SameAsScanAsync(indexes, Query("gamma_token"), "an ignored file")));

        Directory.Move(Path.Combine(_worktree, "src"), Path.Combine(_worktree, "lib"));
        SearchIndexes.RecordChanges(_worktree, "src", "lib");
        Assert.Equal(["lib/a.c", "new/c.c"], Paths(await SameAsScanAsync(indexes, Query("gamma_token"), "a renamed folder")));

        File.Delete(Path.Combine(_worktree, "new/c.c"));
        SearchIndexes.RecordChanges(_worktree, "new/c.c");
        Assert.Equal(["lib/a.c"], Paths(await SameAsScanAsync(indexes, Query("gamma_token"), "a deleted file")));
        Assert.Empty(_logger.Warnings);
    }

    [Fact]
    public async Task Commits_checkouts_and_a_fetch_reach_the_index_without_any_record()
    {
        var remote = Path.Combine(_root, "remote");
        Directory.CreateDirectory(remote);
        TestGit.Run(remote, "init", "--quiet", "--initial-branch=main");
        TestGit.Run(remote, "config", "user.name", "Test");
        TestGit.Run(remote, "config", "user.email", "test@example.invalid");
        File.WriteAllText(Path.Combine(remote, "a.c"), "int first_token;\n");
        TestGit.Run(remote, "add", "--all");
        TestGit.Run(remote, "commit", "--quiet", "-m", "one");
        TestGit.Run(_worktree, "remote", "add", "origin", remote);
        TestGit.Run(_worktree, "fetch", "--quiet", "origin");
        TestGit.Run(_worktree, "checkout", "--quiet", "-B", "main", "origin/main");

        var indexes = NewIndexes();
        await indexes.EnsureReadyAsync(_worktree, CancellationToken.None);
        Assert.Equal(["a.c"], Paths(await SameAsScanAsync(indexes, Query("first_token"))));

        // A fetch and a fast-forward bring a new file and change another.
        File.WriteAllText(Path.Combine(remote, "a.c"), "int second_token;\n");
        File.WriteAllText(Path.Combine(remote, "b.c"), "int second_token;\n");
        TestGit.Run(remote, "add", "--all");
        TestGit.Run(remote, "commit", "--quiet", "-m", "two");
        TestGit.Run(_worktree, "fetch", "--quiet", "origin");
        TestGit.Run(_worktree, "merge", "--quiet", "--ff-only", "origin/main");
        Assert.Empty(await SameAsScanAsync(indexes, Query("first_token"), "after the fetch"));
        Assert.Equal(["a.c", "b.c"], Paths(await SameAsScanAsync(indexes, Query("second_token"), "after the fetch")));

        // A commit of an edit nobody recorded (an editor, then the commit job's add + commit).
        Write("c.c", "int third_token;\n");
        TestGit.Run(_worktree, "add", "--all");
        TestGit.Run(_worktree, "commit", "--quiet", "-m", "three");
        Assert.Equal(["c.c"], Paths(await SameAsScanAsync(indexes, Query("third_token"), "after the commit")));

        // A checkout back to the first commit removes what came later.
        TestGit.Run(_worktree, "checkout", "--quiet", "HEAD~2");
        Assert.Equal(["a.c"], Paths(await SameAsScanAsync(indexes, Query("first_token"), "after the checkout")));
        Assert.Empty(await SameAsScanAsync(indexes, Query("third_token"), "after the checkout"));

        // The commit job's own commit (LibGit2Sharp) too.
        TestGit.Run(_worktree, "checkout", "--quiet", "main");
        Write("d.c", "int fourth_token;\n");
        LibGitStore.CommitAll(_worktree, "four", new LibGit2Sharp.Signature("T", "t@example.invalid", DateTimeOffset.UtcNow),
            new LibGit2Sharp.Signature("T", "t@example.invalid", DateTimeOffset.UtcNow));
        Assert.Equal(["d.c"], Paths(await SameAsScanAsync(indexes, Query("fourth_token"), "after a LibGit2Sharp commit")));
        Assert.Empty(_logger.Warnings);
    }

    [Fact]
    public async Task A_deleted_index_is_rebuilt_a_stale_one_caught_up_and_a_damaged_one_replaced()
    {
        Write("a.c", "int kept_token;\n");
        TestGit.Run(_worktree, "add", "--all");
        TestGit.Run(_worktree, "commit", "--quiet", "-m", "seed");
        var indexFile = Path.Combine(SearchIndexes.IndexDirectory(_worktree), "index.bin");
        Assert.False(indexFile.StartsWith(_worktree + "/", StringComparison.Ordinal), "the index lives beside the worktree, not in it");

        var indexes = NewIndexes();
        await indexes.EnsureReadyAsync(_worktree, CancellationToken.None);
        Assert.True(File.Exists(indexFile));
        Assert.DoesNotContain(".search-index", TestGit.Run(_worktree, "status", "--porcelain", "--untracked-files=all"), StringComparison.Ordinal);

        // Deleted: the next query still answers (the scan, or the index in memory) and the index is built again.
        Directory.Delete(SearchIndexes.IndexDirectory(_worktree), recursive: true);
        Assert.Equal(["a.c"], Paths(await SameAsScanAsync(indexes, Query("kept_token"), "index deleted")));
        await indexes.EnsureReadyAsync(_worktree, CancellationToken.None);
        Assert.True(File.Exists(indexFile));

        // Stale: changed while no process held the index (no record, no git operation); a new instance loads and sweeps.
        Write("a.c", "int changed_token;\n");
        File.SetLastWriteTimeUtc(Path.Combine(_worktree, "a.c"), DateTime.UtcNow.AddMinutes(1));
        var restarted = NewIndexes();
        var statistics = await restarted.EnsureReadyAsync(_worktree, CancellationToken.None);
        Assert.Equal(1, statistics.ChangedFiles);
        Assert.Equal(["a.c"], Paths(await SameAsScanAsync(restarted, Query("changed_token"), "stale index")));
        Assert.Empty(await SameAsScanAsync(restarted, Query("kept_token"), "stale index"));

        // Damaged: not loaded, built again.
        var bytes = File.ReadAllBytes(indexFile);
        File.WriteAllBytes(indexFile, bytes[..(bytes.Length / 2)]);
        var afterDamage = NewIndexes();
        statistics = await afterDamage.EnsureReadyAsync(_worktree, CancellationToken.None);
        Assert.Equal(0, statistics.ChangedFiles);
        Assert.NotEqual(bytes.Length / 2, new FileInfo(indexFile).Length);
        Assert.Equal(["a.c"], Paths(await SameAsScanAsync(afterDamage, Query("changed_token"), "damaged index")));
        Assert.Empty(_logger.Warnings);
    }

    [Fact]
    public async Task Binary_files_huge_lines_unicode_and_queries_without_a_usable_literal_give_the_scans_results()
    {
        WriteBytes("blob.bin", [.. "needle_text"u8, 0, 1, 2]);
        WriteBytes("late-nul.bin", [.. Encoding.UTF8.GetBytes(new string('a', 9000)), 0, .. "needle_text"u8]);
        Write("huge.txt", new string('x', 300_000) + "needle_text" + new string('x', 300_000) + "\n");
        Write("unicode.txt", "下一个spin_lock() Ünïcödé straße needle_text\n\u212Aelvin ſpin\n");
        WriteBytes("latin1.txt", [.. "caf"u8, 0xE9, .. " needle_text\n"u8]);
        Write("crlf.txt", "one\r\nneedle_text\r\n");
        TestGit.Run(_worktree, "add", "--all");
        TestGit.Run(_worktree, "commit", "--quiet", "-m", "seed");
        var indexes = NewIndexes();
        await indexes.EnsureReadyAsync(_worktree, CancellationToken.None);

        var found = await SameAsScanAsync(indexes, Query("NEEDLE_TEXT"));
        Assert.Equal(["crlf.txt", "huge.txt", "late-nul.bin", "latin1.txt", "unicode.txt"], Paths(found)); // byte order: "-" < "n"
        await SameAsScanAsync(indexes, Query("spin_lock", caseSensitive: true, wholeWord: true));
        await SameAsScanAsync(indexes, Query("ÜNÏCÖDÉ"));            // non-ASCII case-insensitive: regex path
        await SameAsScanAsync(indexes, Query("straße", caseSensitive: true));
        await SameAsScanAsync(indexes, Query("kelvin"));             // K is not the Kelvin sign for a literal
        await SameAsScanAsync(indexes, Query("kelvin", regex: true)); // but is for .NET's case-insensitive regex
        await SameAsScanAsync(indexes, Query("SPIN", regex: true));   // and ſ is an s
        await SameAsScanAsync(indexes, Query("needle_\\w+", regex: true));

        // Long files are indexed in overlapping chunks: a literal across a chunk border, and a regex whose literals sit
        // in different chunks of one huge line, are still found.
        var border = TrigramIndex.ChunkBytes;
        var longLine = new StringBuilder(new string('z', (3 * border) + 100));
        longLine.Remove(border - 4, 13).Insert(border - 4, "border_token!");
        longLine.Remove((2 * border) + 50, 10).Insert((2 * border) + 50, "far_token!");
        Write("long.txt", "head_token " + longLine + "\nnext line\n");
        SearchIndexes.RecordChanges(_worktree, "long.txt");
        Assert.Equal(["long.txt"], Paths(await SameAsScanAsync(indexes, Query("border_token"))));
        Assert.Equal(["long.txt"], Paths(await SameAsScanAsync(indexes, Query(@"head_token.*border_token.*far_token", regex: true))));
        TestGit.Run(_worktree, "add", "--all");
        TestGit.Run(_worktree, "commit", "--quiet", "-m", "long");
        var rebuilt = NewIndexes();
        SearchIndexes.DeleteIndex(_worktree);
        await rebuilt.EnsureReadyAsync(_worktree, CancellationToken.None); // long.txt now in the base, in chunks
        Assert.Equal(["long.txt"], Paths(await SameAsScanAsync(rebuilt, Query("border_token"))));
        Assert.Equal(["long.txt"], Paths(await SameAsScanAsync(rebuilt, Query("BORDER_TOKEN!"))));
        Assert.Equal(["long.txt"], Paths(await SameAsScanAsync(rebuilt, Query(@"head_token.*border_token.*far_token", regex: true))));
        Assert.Empty(await SameAsScanAsync(rebuilt, Query(@"border_token.*head_token", regex: true)));

        // No literal of three bytes: the scan answers.
        foreach (var query in new[] { Query("ab"), Query(@"\w+_\w+", regex: true), Query("foo|needle", regex: true), Query("(?i)needle", regex: true) })
        {
            Assert.Empty(query.IndexTrigrams);
            await SameAsScanAsync(indexes, query);
        }
        Assert.NotEmpty(Query("needle").IndexTrigrams);
        Assert.NotEmpty(Query(@"kmalloc\(.*GFP", regex: true).IndexTrigrams);
        Assert.Empty(_logger.Warnings);
    }

    [Fact]
    public async Task Files_searched_in_the_content_store_give_the_scans_lines_columns_and_limits()
    {
        var chunk = TrigramIndex.ChunkBytes;
        // sparse.c: ~20 index chunks of short lines, tokens at the file's start, across chunk borders, inside the
        // overlap, glued to word characters of every kind, on CRLF lines, on a long line that crosses a border, and at
        // the very end without a final newline.
        var text = new StringBuilder("chunk_token at the start\n");
        var random = new Random(14);
        void FillTo(int length)
        {
            while (text.Length < length)
            {
                text.Append(random.Next(4) switch { 0 => "static int value_", 1 => "\tcall(other, ", 2 => "/* comment */ ", _ => "x" }).Append(random.Next(1000)).Append('\n');
            }
        }
        string[] glued = ["chunk_token", "_chunk_token", "chunk_token_", "chunk_token2", "9chunk_token", "échunk_token", "chunk_tokenü",
            "—chunk_token—", "下一个chunk_token()", "CHUNK_TOKEN", "Chunk_Token\r"];
        for (var k = 1; k <= 18; k++)
        {
            FillTo((k * chunk) - 5 - (k % 3)); // the token straddles border k, or ends on it, or starts just before it
            text.Append(glued[k % glued.Length]).Append(" end of line\n");
            if (k == 9)
            {
                FillTo((k * chunk) + 900); // inside the overlap of chunk k - 1
                text.Append("in the overlap chunk_token\r\n");
            }
            if (k == 12)
            {
                FillTo((k * chunk) + (chunk / 2));
                text.Append(new string('w', 6000)).Append(" chunk_token ").Append(new string('w', 6000)).Append('\n'); // longer than the margin
            }
        }
        FillTo(20 * chunk);
        text.Append("last chunk_token");
        Write("sparse.c", text.ToString());
        Write("small.c", "chunk_token\n");
        Write("racy.c", "chunk_token\n");
        TestGit.Run(_worktree, "add", "--all");
        TestGit.Run(_worktree, "commit", "--quiet", "-m", "seed");
        foreach (var name in new[] { "sparse.c", "small.c" })
        {
            File.SetLastWriteTimeUtc(Path.Combine(_worktree, name), DateTime.UtcNow.AddMinutes(-5)); // not "racily clean"
        }
        var indexes = NewIndexes();
        await indexes.EnsureReadyAsync(_worktree, CancellationToken.None);

        // The content store holds sparse.c, and the stamp a search compares is the index's (else every file would be read).
        var sparse = (await indexes.CandidatesAsync(_worktree, Query("chunk_token"), CancellationToken.None))!.Single(c => c.Path == "sparse.c");
        Assert.NotNull(sparse.Store);
        Assert.Equal(Encoding.UTF8.GetByteCount(text.ToString()), sparse.Length);
        // racy.c was written just before the build: a write in the same timestamp tick could keep its stamp, so it is read.
        Assert.Equal(-1, (await indexes.CandidatesAsync(_worktree, Query("chunk_token"), CancellationToken.None))!.Single(c => c.Path == "racy.c").Offset);
        using (var reader = new WorktreeReader(_worktree))
        {
            Assert.Equal(TrigramIndex.Stamp(_worktree, "sparse.c"), reader.Stamp("sparse.c\0"u8));
            Assert.Equal((-1L, -1L), reader.Stamp("missing.c\0"u8));
        }

        var queries = new List<PreparedSearch>();
        foreach (var max in new[] { 1, 2, 7, 50, 1000 })
        {
            queries.Add(Query("chunk_token", max: max));
            queries.Add(Query("chunk_token", caseSensitive: true, max: max));
            queries.Add(Query("chunk_token", wholeWord: true, max: max));
            queries.Add(Query("CHUNK_TOKEN", caseSensitive: true, wholeWord: true, max: max));
        }
        foreach (var text2 in new[] { "_chunk", "token2", "en of", "end of line", "ken\r", "chunk_tokenü", "ÉCHUNK_TOKEN", "—chunk", "value_1" })
        {
            queries.Add(Query(text2));
            queries.Add(Query(text2, wholeWord: true));
        }
        queries.Add(Query(@"chunk_\w+", regex: true));
        queries.Add(Query("token", wholeWord: true, include: ["sparse.c"]));
        foreach (var query in queries)
        {
            await SameAsScanAsync(indexes, query, "the base, from the content store");
        }
        var all = await SameAsScanAsync(indexes, Query("chunk_token"));
        Assert.Contains(all, m => m.FilePath == "sparse.c" && m.Line == 1 && m.Column == 1);
        Assert.Equal(text.ToString().Split('\n').Length, all.Last(m => m.FilePath == "sparse.c").Line);

        // Edited behind the index's back (no record, no git operation) keeping the same size: more newlines up front
        // shift every line, so the stored content is stale; its modification time differs, so the file is read instead.
        var edited = text.ToString().Replace("chunk_token at the start\n", "\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n", StringComparison.Ordinal);
        Assert.Equal(text.Length, edited.Length);
        Write("sparse.c", edited);
        foreach (var query in queries)
        {
            await SameAsScanAsync(indexes, query, "edited behind the index's back");
        }
        Assert.Empty(_logger.Warnings);
    }

    [Fact]
    public async Task Whole_words_at_file_edges_and_next_to_digits_underscores_and_letters_give_the_scans_results()
    {
        Write("start.c", "spin_lock(x);\n");
        Write("end.c", "call spin_lock");
        Write("longer.c", "spin_lock_irqsave(x); spin_locked(); raw_spin_lock(y);\n");
        Write("digits.c", "spin_lock2(x); x2spin_lock; 0spin_lock9\n");
        Write("underscores.c", "_spin_lock(); spin_lock_\n");
        Write("letters.c", "éspin_lock spin_lockü\n");
        Write("dash.c", "—spin_lock— (spin_lock)\n");
        Write("cjk.c", "下一个spin_lock()\n");
        Write("upper.c", "SPIN_LOCK(x)\n");
        Write("crlf.c", "a\r\nspin_lock\r\n");
        TestGit.Run(_worktree, "add", "--all");
        TestGit.Run(_worktree, "commit", "--quiet", "-m", "seed");
        var indexes = NewIndexes();
        await indexes.EnsureReadyAsync(_worktree, CancellationToken.None);

        Assert.Equal(["crlf.c", "dash.c", "end.c", "start.c"],
            Paths(await SameAsScanAsync(indexes, Query("spin_lock", caseSensitive: true, wholeWord: true))));
        Assert.Equal(["crlf.c", "dash.c", "end.c", "start.c", "upper.c"], Paths(await SameAsScanAsync(indexes, Query("SPIN_LOCK", wholeWord: true))));
        foreach (var text in new[] { "spin", "lock", "_lock", "spin_lock_", "2spin_lock", "spin_lock9", "x2spin_lock", "(spin_lock)", "spin_lock(", "éspin_lock", "ÉSPIN_LOCK" })
        {
            await SameAsScanAsync(indexes, Query(text, wholeWord: true), text);
            await SameAsScanAsync(indexes, Query(text, caseSensitive: true, wholeWord: true), text);
        }

        // Changed files (the in-memory overlay) alike.
        Write("longer.c", "spin_lock_irqsave(x);\nspin_lock(y);\n");
        Write("new.c", "spin_locks\n");
        SearchIndexes.RecordChanges(_worktree, "longer.c", "new.c");
        Assert.Equal(["crlf.c", "dash.c", "end.c", "longer.c", "start.c"],
            Paths(await SameAsScanAsync(indexes, Query("spin_lock", caseSensitive: true, wholeWord: true), "after writes")));
        Assert.Empty(_logger.Warnings);
    }

    [Fact]
    public async Task Writes_and_queries_at_once_are_safe_and_end_in_the_scans_answer()
    {
        Write("seed.c", "int racing_token;\n");
        TestGit.Run(_worktree, "add", "--all");
        TestGit.Run(_worktree, "commit", "--quiet", "-m", "seed");
        var indexes = NewIndexes();
        await indexes.EnsureReadyAsync(_worktree, CancellationToken.None);
        var query = Query("racing_token");

        var writers = Enumerable.Range(0, 2).Select(w => Task.Run(() =>
        {
            for (var i = 0; i < 60; i++)
            {
                var name = $"w{w}/f{i % 20}.c";
                Write(name, i % 3 == 0 ? "nothing\n" : $"int racing_token; // {w} {i}\n");
                SearchIndexes.RecordChanges(_worktree, name);
            }
        })).ToArray();
        var readers = Enumerable.Range(0, 3).Select(_ => Task.Run(async () =>
        {
            while (!writers.All(w => w.IsCompleted))
            {
                var results = await indexes.SearchAsync(_worktree, query, CancellationToken.None);
                Assert.Contains(results, r => r.FilePath == "seed.c");
            }
        })).ToArray();
        await Task.WhenAll([.. writers, .. readers]);
        var final = await SameAsScanAsync(indexes, query, "after the race");
        Assert.Equal(1 + (2 * 14), final.Count); // seed.c plus, per writer, the 14 of 20 files whose last write (i in 40..59, not a multiple of 3) has the token
        Assert.Empty(_logger.Warnings);
    }

    [Fact]
    public async Task An_edit_that_bypasses_the_api_and_git_is_found_once_the_staleness_bound_has_passed()
    {
        Write("a.c", "int before_token;\n");
        TestGit.Run(_worktree, "add", "--all");
        TestGit.Run(_worktree, "commit", "--quiet", "-m", "seed");
        var indexes = NewIndexes(TimeSpan.FromMilliseconds(200));
        await indexes.EnsureReadyAsync(_worktree, CancellationToken.None);

        Write("a.c", "int after_token;\n");
        File.SetLastWriteTimeUtc(Path.Combine(_worktree, "a.c"), DateTime.UtcNow.AddMinutes(1));
        var query = Query("after_token");
        for (var attempt = 0; attempt < 300 && (await indexes.SearchAsync(_worktree, query, CancellationToken.None)).Count == 0; attempt++)
        {
            await Task.Delay(100);
        }
        Assert.Equal(["a.c"], Paths(await SameAsScanAsync(indexes, query, "after a background sweep")));
        Assert.Empty(_logger.Warnings);
    }

    /// <summary>Collects warnings (an index that fails quietly falls back to the scan: the tests want to know).</summary>
    private sealed class FailingLogger : ILogger<SearchIndexes>
    {
        public List<string> Warnings { get; } = [];

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (logLevel >= LogLevel.Warning)
            {
                lock (Warnings)
                {
                    Warnings.Add(formatter(state, exception) + " " + exception);
                }
            }
        }
    }
}
