using System.Text;
using System.Text.RegularExpressions;
using Conductor.Tests.Infrastructure;
using Conductor.Workspaces;
using Conductor.Workspaces.Git;
using Conductor.Workspaces.Search;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Conductor.Tests.Workspaces;

/// <summary>
/// The search engine's shortcuts (literal prefilter for regular expressions, vectorised literal finder, word
/// boundaries on bytes, symlink-free opens) must never change a result: each is checked against the plain way.
/// </summary>
public sealed class CodeSearchEngineTests : IDisposable
{
    private readonly string _root = TestDirectories.Create("search-engine");
    private readonly CodeSearch _search;

    public CodeSearchEngineTests()
    {
        _search = new CodeSearch(new GitCli(Options.Create(new WorkspaceOptions { Root = _root }), NullLogger<GitCli>.Instance));
        TestGit.Run(_root, "init", "--quiet", "--initial-branch=main");
    }

    public void Dispose() => TestDirectories.TryDelete(_root);

    [Theory]
    [InlineData(@"kmalloc\(.*GFP_ATOMIC", false, new[] { "GFP_ATOMIC", "kmalloc(" })]
    [InlineData("foo|bar", false, new string[0])]                  // top-level alternation: nothing is required
    [InlineData("(foo|bar)baz", false, new[] { "baz" })]          // a group ends a run; the alternation inside is fine
    [InlineData("colou?r", false, new[] { "colo", "r" })]         // an optional atom is dropped
    [InlineData("ab*c", false, new[] { "a", "c" })]
    [InlineData("ab+c", false, new[] { "a", "c" })]
    [InlineData("ab{2,3}c", false, new[] { "a", "c" })]
    [InlineData("a{x}", false, new string[0])]                    // a '{' that is no quantifier is a literal in .NET
    [InlineData("(?:foo)?bar", false, new[] { "bar" })]
    [InlineData("^foo$", false, new[] { "foo" })]                 // anchors end runs
    [InlineData(@"\bfoo\d+bar\b", false, new[] { "foo", "bar" })] // \b and \d+ end runs
    [InlineData("(?i)foo", false, new string[0])]                 // inline options: no prefilter
    [InlineData("(?x)f o o", false, new string[0])]
    [InlineData(@"\x41BC", false, new string[0])]                 // escapes with arguments are not read
    [InlineData(@"\p{L}abc", false, new string[0])]
    [InlineData(@"a\.b\(c", false, new[] { "a.b(c" })]
    [InlineData("[abc]def[^g]h", false, new[] { "def", "h" })]
    [InlineData("[a-z-[aeiou]]xyz", false, new string[0])]        // class subtraction: not read
    [InlineData("(?<=foo)bar(?!baz)qux", false, new[] { "bar", "qux" })]
    [InlineData("kmalloc", true, new[] { "malloc" })]            // case-insensitive: k also matches the Kelvin sign
    [InlineData("Spin", true, new[] { "p", "n" })]               // s and i too (ſ, İ)
    [InlineData("café", false, new[] { "caf" })]                 // ASCII only
    public void Required_literals_are_read_conservatively(string pattern, bool ignoreCase, string[] expected)
    {
        var runs = RegexPrefilter.RequiredLiterals(pattern, ignoreCase, max: 10);
        Assert.Equal(expected.OrderBy(r => r, StringComparer.Ordinal), runs.OrderBy(r => r, StringComparer.Ordinal));
    }

    [Fact]
    public void Every_ascii_letter_with_a_non_ascii_case_equivalent_is_known()
    {
        for (var letter = 'A'; letter <= 'z'; letter++)
        {
            if (!char.IsAsciiLetter(letter))
            {
                continue;
            }
            var regex = new Regex("^" + letter + "$", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant);
            var hasNonAscii = false;
            for (var c = 0x80; c <= 0xFFFF && !hasNonAscii; c++)
            {
                hasNonAscii = c is < 0xD800 or > 0xDFFF && regex.IsMatch(((char)c).ToString());
            }
            Assert.True(!hasNonAscii || RegexPrefilter.LettersWithNonAsciiCaseEquivalents.Contains(letter, StringComparison.Ordinal),
                $"'{letter}' matches a non-ASCII character case-insensitively");
        }
    }

    [Fact]
    public async Task The_regex_prefilter_never_changes_results()
    {
        // Text where required literals sit across lines, at file edges, in other cases, next to invalid UTF-8.
        var texts = new[]
        {
            "kmalloc(size, GFP_ATOMIC);\nkmalloc(size,\n GFP_ATOMIC)\n",
            "KMALLOC(x, gfp_atomic)\nkmalloc(x, GFP_KERNEL)\n",
            "colour color colr\nfoo\nbar baz\nfoobaz\r\nbarbaz",
            "\u212Amalloc(1) K\u212A ſpin SPIN spin İt\n",
            "x = foo123bar;\nfoo bar\nfoo1bar2\n",
            "abc{x} a{x} ab{2}c abbc abbbc\n",
        };
        for (var i = 0; i < texts.Length; i++)
        {
            Write($"t{i}.txt", texts[i]);
        }
        File.WriteAllBytes(Path.Combine(_root, "invalid.txt"), [.. "foo"u8, 0xFF, .. "bar\nkmalloc"u8, 0xC3, .. "(GFP_ATOMIC)\n"u8]);
        string[] patterns =
        [
            @"kmalloc\(.*GFP_ATOMIC", @"kmalloc\(\s*\w+,\s*GFP_ATOMIC", "colou?r", "(foo|bar)baz", "foo|bar", @"foo\d+bar",
            "^foo$", "bar$", "kmalloc", "spin", @"K\u212A", "ab{2,3}c", @"a\{x\}", @"foo.bar", "(?<=foo)bar", @"\bbar\b",
        ];
        foreach (var pattern in patterns)
        {
            foreach (var caseSensitive in new[] { true, false })
            {
                foreach (var wholeWord in new[] { true, false })
                {
                    var query = new SearchQuery(pattern) { Regex = true, CaseSensitive = caseSensitive, WholeWord = wholeWord, MaxResults = 1000 };
                    var fast = await _search.SearchAsync(_root, CodeSearch.Prepare(query, TimeSpan.FromSeconds(5)), CancellationToken.None);
                    var plain = PlainSearch(pattern, caseSensitive, wholeWord);
                    Assert.Equal(plain, fast.Select(m => $"{m.FilePath}:{m.Line}:{m.Column}"));
                }
            }
        }
    }

    /// <summary>The same search without any shortcut: decode every file, run the expression on all of it.</summary>
    private List<string> PlainSearch(string pattern, bool caseSensitive, bool wholeWord)
    {
        var regex = new Regex(wholeWord ? $@"\b(?:{pattern})\b" : pattern,
            RegexOptions.Multiline | RegexOptions.CultureInvariant | (caseSensitive ? RegexOptions.None : RegexOptions.IgnoreCase));
        var results = new List<string>();
        foreach (var file in Directory.GetFiles(_root).Select(Path.GetFileName).Order(StringComparer.Ordinal))
        {
            var text = Encoding.UTF8.GetString(File.ReadAllBytes(Path.Combine(_root, file!)));
            var reported = new HashSet<int>();
            foreach (Match match in regex.Matches(text))
            {
                var line = text.AsSpan(0, match.Index).Count('\n') + 1;
                if (reported.Add(line))
                {
                    var lineStart = text.LastIndexOf('\n', Math.Max(match.Index - 1, 0)) + 1;
                    results.Add($"{file}:{line}:{match.Index - (match.Index == 0 ? 0 : lineStart) + 1}");
                }
            }
        }
        return results;
    }

    [Fact]
    public void The_literal_finder_agrees_with_a_naive_search()
    {
        var random = new Random(12345);
        const string alphabet = "aAbBkK_x\n\u00e9(";
        for (var round = 0; round < 400; round++)
        {
            var text = new string([.. Enumerable.Range(0, random.Next(0, 200)).Select(_ => alphabet[random.Next(alphabet.Length)])]);
            var data = Encoding.UTF8.GetBytes(text);
            var needleText = new string([.. Enumerable.Range(0, random.Next(1, 5)).Select(_ => "aAbBkK_x("[random.Next(9)])]);
            var needle = Encoding.ASCII.GetBytes(needleText);
            foreach (var ignoreCase in new[] { true, false })
            {
                var finder = new LiteralFinder(needle, ignoreCase);
                var from = random.Next(0, data.Length + 1);
                var expected = -1;
                for (var i = from; i + needle.Length <= data.Length && expected < 0; i++)
                {
                    var candidate = data.AsSpan(i, needle.Length);
                    if (ignoreCase ? System.Text.Ascii.EqualsIgnoreCase(candidate, needle) : candidate.SequenceEqual(needle))
                    {
                        expected = i;
                    }
                }
                Assert.Equal(expected, finder.IndexOf(data, from));
            }
        }
    }

    [Fact]
    public void Word_characters_are_those_of_dotnet_regex_word_boundaries()
    {
        var boundary = new Regex(@"^a\b", RegexOptions.CultureInvariant);
        for (var c = 0; c <= 0xFFFF; c++)
        {
            if (c is >= 0xD800 and <= 0xDFFF)
            {
                continue;
            }
            var isBoundary = boundary.IsMatch("a" + (char)c);
            Assert.True(isBoundary != LineMatcher.IsWordChar(c), $"U+{c:X4}");
        }
    }

    [Fact]
    public async Task Whole_word_literals_treat_letters_of_any_script_as_word_characters()
    {
        Write("cjk.txt", "下一个spin_lock()\n—spin_lock—\nspin_lockä\nspin_lock\u00A0x\n");
        var results = await _search.SearchAsync(_root, CodeSearch.Prepare(new SearchQuery("spin_lock") { CaseSensitive = true, WholeWord = true }, TimeSpan.FromSeconds(1)), CancellationToken.None);
        // CJK and ä are letters (no boundary, as rg and .NET's \b say; git grep -w only knows ASCII), dashes and
        // a no-break space are not.
        Assert.Equal([2, 4], results.Select(r => r.Line));
        var regex = await _search.SearchAsync(_root, CodeSearch.Prepare(new SearchQuery("spin_lock") { Regex = true, CaseSensitive = true, WholeWord = true }, TimeSpan.FromSeconds(1)), CancellationToken.None);
        Assert.Equal([2, 4], regex.Select(r => r.Line));
    }

    [Fact]
    public async Task Tracked_symlinks_and_paths_through_symlinked_folders_are_not_read()
    {
        var outside = TestDirectories.Create("search-engine-outside");
        try
        {
            File.WriteAllText(Path.Combine(outside, "secret.txt"), "FINDME outside\n");
            Write("inside/secret.txt", "FINDME inside\n");
            Write("plain.txt", "FINDME plain\n");
            File.CreateSymbolicLink(Path.Combine(_root, "tracked-link.txt"), Path.Combine(outside, "secret.txt"));
            TestGit.Run(_root, "add", "--all");
            TestGit.Run(_root, "commit", "--quiet", "-m", "seed");
            // The index still lists inside/secret.txt, but the folder is now a symlink to outside the worktree.
            Directory.Delete(Path.Combine(_root, "inside"), recursive: true);
            Directory.CreateSymbolicLink(Path.Combine(_root, "inside"), outside);
            foreach (var fallback in new[] { false, true })
            {
                var previous = WorktreeReader.ForceFallback;
                WorktreeReader.ForceFallback = fallback;
                try
                {
                    var results = await _search.SearchAsync(_root, CodeSearch.Prepare(new SearchQuery("findme"), TimeSpan.FromSeconds(1)), CancellationToken.None);
                    Assert.Equal(["plain.txt"], results.Select(r => r.FilePath));
                }
                finally
                {
                    WorktreeReader.ForceFallback = previous;
                }
            }
        }
        finally
        {
            TestDirectories.TryDelete(outside);
        }
    }

    [Fact]
    public async Task Tracked_and_untracked_files_merge_in_path_order_and_the_limit_is_an_exact_prefix()
    {
        for (var i = 0; i < 60; i++)
        {
            Write($"d{i % 7}/f{i:D2}.txt", string.Concat(Enumerable.Repeat("needle\n", i % 4)));
        }
        TestGit.Run(_root, "add", "d0", "d2", "d4");
        TestGit.Run(_root, "commit", "--quiet", "-m", "some tracked");
        var all = await _search.SearchAsync(_root, CodeSearch.Prepare(new SearchQuery("needle") { MaxResults = 1000 }, TimeSpan.FromSeconds(1)), CancellationToken.None);
        var expected = Directory.GetFiles(_root, "*.txt", SearchOption.AllDirectories)
            .Select(f => Path.GetRelativePath(_root, f).Replace('\\', '/'))
            .Order(StringComparer.Ordinal)
            .SelectMany(f => Enumerable.Range(1, File.ReadAllLines(Path.Combine(_root, f)).Length).Select(l => $"{f}:{l}"))
            .ToList();
        Assert.Equal(expected, all.Select(r => $"{r.FilePath}:{r.Line}"));
        for (var max = 1; max <= 40; max += 3)
        {
            var some = await _search.SearchAsync(_root, CodeSearch.Prepare(new SearchQuery("needle") { MaxResults = max }, TimeSpan.FromSeconds(1)), CancellationToken.None);
            Assert.Equal(expected.Take(max), some.Select(r => $"{r.FilePath}:{r.Line}"));
        }
        Assert.Equal(
            Directory.GetFiles(_root, "*.txt", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(_root, f)).Order(StringComparer.Ordinal),
            await _search.ListFilesAsync(_root, CancellationToken.None));
    }

    [Fact]
    public void The_index_listing_drops_symlinks_and_submodules_and_counts_a_conflicted_path_once()
    {
        var output = Encoding.UTF8.GetBytes(string.Concat(
            "100644 1111111111111111111111111111111111111111 0\tb.txt\0",
            "120000 2222222222222222222222222222222222222222 0\tc-link\0",
            "100644 3333333333333333333333333333333333333333 1\td.txt\0",
            "100644 4444444444444444444444444444444444444444 2\td.txt\0",
            "100644 5555555555555555555555555555555555555555 3\td.txt\0",
            "160000 6666666666666666666666666666666666666666 0\te-submodule\0",
            "100755 7777777777777777777777777777777777777777 0\ta b\tc.sh\0")); // unsorted, tab in a name
        var list = FileList.FromStage(output);
        Assert.Equal(["a b\tc.sh", "b.txt", "d.txt"], Enumerable.Range(0, list.Count).Select(list.PathString));
        Assert.Equal((byte)0, list.Path(0)[^1]);
    }

    private void Write(string path, string text)
    {
        var full = Path.Combine(_root, path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        File.WriteAllText(full, text);
    }
}
