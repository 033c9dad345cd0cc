using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using Conductor.Workspaces.Git;

namespace Conductor.Workspaces.Search;

/// <summary>
/// A search as documented for <c>GET /workspace/{room_id}/search</c>: a case-insensitive substring by default;
/// <see cref="CaseSensitive"/>, <see cref="Regex"/> (.NET syntax, with a timeout) and <see cref="WholeWord"/>
/// change that; <see cref="Include"/>/<see cref="Exclude"/> are globs (see <see cref="Glob"/>).
/// </summary>
public sealed record SearchQuery(string Text)
{
    public bool CaseSensitive { get; init; }
    public bool Regex { get; init; }
    public bool WholeWord { get; init; }
    public IReadOnlyList<string> Include { get; init; } = [];
    public IReadOnlyList<string> Exclude { get; init; } = [];
    public int MaxResults { get; init; } = CodeSearch.DefaultMaxResults;
}

/// <param name="Line">1-based line number.</param>
/// <param name="Column">1-based column of the first match on the line, in UTF-16 code units (as editors count).</param>
/// <param name="Content">The line, whitespace-trimmed and cut to <see cref="CodeSearch.MaxContentChars"/> around the match.</param>
public sealed record SearchMatch(string FilePath, int Line, int Column, string Content);

public sealed class SearchQueryException(string message) : WorkspaceException(WorkspaceErrorKind.Invalid, "Invalid search", message);

/// <summary>
/// Searches a worktree. The file list is git's own: the index (<c>git ls-files --stage</c>, tracked files with their
/// modes, so symlinks and submodules are left out) and <c>git ls-files --others --exclude-standard</c> (untracked files
/// minus what .gitignore excludes), never <c>.git</c>. Files are opened without following any symlink
/// (<see cref="WorktreeReader"/>) and searched in parallel as raw UTF-8 bytes (<see cref="LiteralFinder"/>); a regular
/// expression or a non-ASCII case-insensitive query decodes the files that contain its required literals
/// (<see cref="RegexPrefilter"/>). Binary files (a NUL in the first 8 KiB) are skipped. One result per matching line,
/// in path order: the first <c>max_results</c> lines of the ordered list, whatever the parallel schedule.
/// </summary>
public sealed class CodeSearch(GitCli git)
{
    public const int DefaultMaxResults = 50;
    public const int MaxResultsCap = 1000;
    public const int MaxQueryLength = 1000;
    public const int MaxContentChars = 300;
    public const int BinaryProbeBytes = 8192;
    internal const int MaxSearchedFileBytes = 64 * 1024 * 1024;
    private const int InitialReadBuffer = 256 * 1024;

    /// <summary>Parses the options into a matcher, or throws <see cref="SearchQueryException"/> (a 400).</summary>
    public static PreparedSearch Prepare(SearchQuery query, TimeSpan regexTimeout, int maxResultsCap = MaxResultsCap)
    {
        if (string.IsNullOrEmpty(query.Text))
        {
            throw new SearchQueryException("q is required.");
        }
        if (query.Text.Length > MaxQueryLength)
        {
            throw new SearchQueryException($"q is longer than {MaxQueryLength} characters.");
        }
        if (query.Text.Contains('\n', StringComparison.Ordinal) || query.Text.Contains('\0', StringComparison.Ordinal))
        {
            throw new SearchQueryException("q must be a single line without NUL characters.");
        }
        if (query.MaxResults < 1)
        {
            throw new SearchQueryException("max_results must be at least 1.");
        }
        Glob[] includes, excludes;
        try
        {
            includes = query.Include.Where(g => !string.IsNullOrWhiteSpace(g)).Select(g => Glob.Parse(g)).ToArray();
            excludes = query.Exclude.Where(g => !string.IsNullOrWhiteSpace(g)).Select(g => Glob.Parse(g)).ToArray();
        }
        catch (ArgumentException ex)
        {
            throw new SearchQueryException($"Invalid include/exclude glob: {ex.Message}");
        }
        var max = Math.Min(query.MaxResults, maxResultsCap);

        LineMatcher matcher;
        PositionedTrigram[][] trigrams; // per required literal, the trigrams a matching file contains (see Trigrams); none: the index cannot narrow the search
        if (query.Regex || (!query.CaseSensitive && !Ascii.IsValid(query.Text)))
        {
            var pattern = query.Regex ? query.Text : System.Text.RegularExpressions.Regex.Escape(query.Text);
            if (query.WholeWord)
            {
                pattern = $@"\b(?:{pattern})\b";
            }
            var options = RegexOptions.Multiline | RegexOptions.CultureInvariant | (query.CaseSensitive ? RegexOptions.None : RegexOptions.IgnoreCase);
            try
            {
                var regex = new Regex(pattern, options, regexTimeout);
                var literals = query.Regex ? query.Text : System.Text.RegularExpressions.Regex.Escape(query.Text);
                var required = RegexPrefilter.RequiredLiterals(literals, ignoreCase: !query.CaseSensitive)
                    .Select(l => new LiteralFinder(Encoding.ASCII.GetBytes(l), ignoreCase: !query.CaseSensitive))
                    .ToArray();
                matcher = new RegexMatcher(regex, required);
                trigrams = Trigrams.Groups(RegexPrefilter.RequiredLiterals(literals, ignoreCase: !query.CaseSensitive).Select(Encoding.ASCII.GetBytes));
            }
            catch (ArgumentException ex)
            {
                throw new SearchQueryException($"Invalid regular expression: {ex.Message}");
            }
        }
        else
        {
            var needle = Encoding.UTF8.GetBytes(query.Text);
            matcher = new ByteMatcher(needle, query.CaseSensitive, query.WholeWord);
            trigrams = Trigrams.Groups([needle]);
        }
        return new PreparedSearch(matcher, includes, excludes, max, trigrams);
    }

    /// <summary>Relative paths of the files to search (tracked and untracked), in git's (byte) order.</summary>
    public async Task<IReadOnlyList<string>> ListFilesAsync(string worktree, CancellationToken cancellationToken)
    {
        var untracked = ListAsync(worktree, tracked: false, cancellationToken);
        var tracked = await ListAsync(worktree, tracked: true, cancellationToken).ConfigureAwait(false);
        return FileList.Merge(tracked, await untracked.ConfigureAwait(false));
    }

    /// <summary>
    /// Lists and searches. The index (tracked files, with their modes: symlinks and submodules are left out) is
    /// listed in a few milliseconds; the untracked files need git to walk the tree, so that listing runs concurrently
    /// while the tracked files are already being searched. Each list is searched up to an exact ordered prefix of
    /// <see cref="PreparedSearch.MaxResults"/> matches, then the two are merged in path order.
    /// </summary>
    public async Task<IReadOnlyList<SearchMatch>> SearchAsync(string worktree, PreparedSearch search, CancellationToken cancellationToken)
    {
        using var reader = new WorktreeReader(worktree);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var untrackedListing = ListAsync(worktree, tracked: false, stop.Token);
        Task<FileResults>? trackedSearch = null;
        try
        {
            var tracked = await ListAsync(worktree, tracked: true, stop.Token).ConfigureAwait(false);
            trackedSearch = Task.Run(() => Run(reader, tracked, search, stop.Token), stop.Token);
            var untracked = await untrackedListing.ConfigureAwait(false);
            var untrackedResults = untracked.Count == 0 ? FileResults.Empty : Run(reader, untracked, search, stop.Token);
            return FileResults.Merge(await trackedSearch.ConfigureAwait(false), untrackedResults, search.MaxResults);
        }
        finally
        {
            // On any failure nothing may still read through the reader when it is disposed.
            await stop.CancelAsync().ConfigureAwait(false);
            if (trackedSearch is not null)
            {
                await ((Task)trackedSearch).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }
            await ((Task)untrackedListing).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
    }

    /// <summary>
    /// The files to search among <paramref name="paths"/> (files or folders, taken literally): what
    /// <see cref="ListFilesAsync(string, CancellationToken)"/> would list at or below them.
    /// </summary>
    public async Task<IReadOnlyList<string>> ListFilesAsync(string worktree, IReadOnlyCollection<string> paths, CancellationToken cancellationToken)
    {
        var untracked = ListAsync(worktree, tracked: false, cancellationToken, paths);
        var tracked = await ListAsync(worktree, tracked: true, cancellationToken, paths).ConfigureAwait(false);
        return FileList.Merge(tracked, await untracked.ConfigureAwait(false));
    }

    private async Task<FileList> ListAsync(string worktree, bool tracked, CancellationToken cancellationToken, IReadOnlyCollection<string>? paths = null)
    {
        string[] arguments = tracked
            ? ["ls-files", "-z", "--stage", "--cached"]
            : ["ls-files", "-z", "--others", "--exclude-standard"];
        if (paths is not null)
        {
            // Global option first: '*' or ':' in a file name is not a pattern.
            arguments = ["--literal-pathspecs", .. arguments, "--", .. paths];
        }
        var result = await git.RunCheckedAsync(new GitInvocation(arguments) { WorkingDirectory = worktree }, cancellationToken).ConfigureAwait(false);
        return tracked ? FileList.FromStage(result.StandardOutputBytes) : FileList.FromNames(result.StandardOutputBytes);
    }

    /// <summary>Searches the given files (relative to <paramref name="root"/>) and returns the first matches in path order.</summary>
    public static IReadOnlyList<SearchMatch> Search(string root, IReadOnlyList<string> files, PreparedSearch search, CancellationToken cancellationToken)
    {
        using var reader = new WorktreeReader(root);
        return FileResults.Merge(Run(reader, FileList.FromStrings(files), search, cancellationToken), FileResults.Empty, search.MaxResults);
    }

    /// <summary>
    /// Searches the files the index left (relative to <paramref name="root"/>), those it holds unchanged in its content
    /// store without reading them (<see cref="ContentStore"/>), and returns the first matches in path order.
    /// </summary>
    internal static IReadOnlyList<SearchMatch> Search(string root, List<IndexedFile> files, PreparedSearch search, CancellationToken cancellationToken)
    {
        files.Sort((a, b) => Utf8Order.Instance.Compare(a.Path, b.Path));
        var list = FileList.FromStrings([.. files.Select(f => f.Path)]); // already in its order
        var store = files.FirstOrDefault(f => f.Store is not null)?.Store;
        using var lease = store?.Acquire();
        using var reader = new WorktreeReader(root);
        return FileResults.Merge(Run(reader, list, search, cancellationToken, lease is null ? null : (files, lease)), FileResults.Empty, search.MaxResults);
    }

    /// <summary>
    /// Searches <paramref name="files"/> with one worker per core. Workers claim small batches in list order; once
    /// the matches found reach the limit nobody claims more, and every claimed batch completes, so the files before
    /// the last claimed one are all searched: an exact ordered prefix whatever the schedule.
    /// </summary>
    private static FileResults Run(WorktreeReader reader, FileList files, PreparedSearch search, CancellationToken cancellationToken,
        (List<IndexedFile> Files, ContentStore.Lease Lease)? stored = null)
    {
        const int Batch = 16;
        var count = files.Count;
        var perFile = new List<SearchMatch>?[count];
        var next = 0;
        var found = 0;
        var stop = false;
        Exception? failure = null;
        var filtered = search.Includes.Length > 0 || search.Excludes.Length > 0;

        void Work()
        {
            var buffer = ArrayPool<byte>.Shared.Rent(InitialReadBuffer);
            try
            {
                while (!Volatile.Read(ref stop))
                {
                    var begin = Interlocked.Add(ref next, Batch) - Batch;
                    if (begin >= count)
                    {
                        return;
                    }
                    var end = Math.Min(begin + Batch, count);
                    for (var i = begin; i < end; i++)
                    {
                        if (filtered && !search.Accepts(files.PathString(i)))
                        {
                            continue;
                        }
                        List<SearchMatch>? matches;
                        if (stored is var (indexed, lease) && indexed[i] is { Store: not null, Offset: >= 0 } file
                            && reader.Stamp(files.Path(i)) == (file.Size, file.Mtime))
                        {
                            // Unchanged since the index read it: its stored bytes are what a read would give.
                            matches = search.Matcher.Find(files, i, lease.Content(file.Shard, file.Offset, file.Length), search.MaxResults);
                        }
                        else
                        {
                            var length = reader.ReadFile(files.Path(i), ref buffer, MaxSearchedFileBytes, BinaryProbeBytes);
                            if (length <= 0)
                            {
                                continue;
                            }
                            matches = search.Matcher.Find(files, i, buffer.AsSpan(0, length), search.MaxResults);
                        }
                        if (matches is not null)
                        {
                            perFile[i] = matches;
                            if (Interlocked.Add(ref found, matches.Count) >= search.MaxResults)
                            {
                                Volatile.Write(ref stop, true); // the rest of this batch still completes
                            }
                        }
                    }
                    if (cancellationToken.IsCancellationRequested)
                    {
                        Volatile.Write(ref stop, true);
                    }
                }
            }
            catch (Exception ex)
            {
                Interlocked.CompareExchange(ref failure, ex, null);
                Volatile.Write(ref stop, true);
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }

        var workers = Math.Clamp(count / Batch, 1, Environment.ProcessorCount);
        if (workers == 1)
        {
            Work();
        }
        else
        {
            var others = new Task[workers - 1];
            for (var w = 0; w < others.Length; w++)
            {
                others[w] = Task.Factory.StartNew(Work, CancellationToken.None, TaskCreationOptions.None, TaskScheduler.Default);
            }
            Work();
            Task.WaitAll(others, CancellationToken.None);
        }
        cancellationToken.ThrowIfCancellationRequested();
        if (failure is RegexMatchTimeoutException)
        {
            throw new SearchQueryException("The regular expression took too long; make it more specific.");
        }
        if (failure is not null)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(failure);
        }
        return new FileResults(files, perFile, Math.Min(next, count));
    }

    internal static SearchMatch MakeMatch(string path, int lineNumber, ReadOnlySpan<byte> line, int matchByteOffset)
    {
        if (!line.IsEmpty && line[^1] == (byte)'\r')
        {
            line = line[..^1];
        }
        var text = Encoding.UTF8.GetString(line);
        var column = Encoding.UTF8.GetCharCount(line[..Math.Min(matchByteOffset, line.Length)]) + 1;
        return new SearchMatch(path, lineNumber, column, Excerpt(text, column - 1));
    }

    internal static string Excerpt(string line, int matchIndex)
    {
        var trimmed = line.Trim();
        if (trimmed.Length <= MaxContentChars)
        {
            return trimmed;
        }
        var leading = line.Length - line.TrimStart().Length;
        var start = Math.Clamp(matchIndex - leading - (MaxContentChars / 3), 0, trimmed.Length - MaxContentChars);
        return trimmed.Substring(start, MaxContentChars);
    }
}

public sealed class PreparedSearch
{
    internal PreparedSearch(LineMatcher matcher, Glob[] includes, Glob[] excludes, int maxResults, PositionedTrigram[][] indexTrigramGroups)
    {
        IndexTrigramGroups = indexTrigramGroups;
        IndexTrigrams = [.. indexTrigramGroups.SelectMany(g => g).Select(t => t.Key).Distinct().Order()];
        Matcher = matcher;
        Includes = includes;
        Excludes = excludes;
        MaxResults = maxResults;
    }

    internal LineMatcher Matcher { get; }
    internal Glob[] Includes { get; }
    internal Glob[] Excludes { get; }
    public int MaxResults { get; }

    /// <summary>Trigrams every matching file contains (empty: the search index cannot narrow this search).</summary>
    internal int[] IndexTrigrams { get; }

    /// <summary>The same per required literal: each must be whole in one chunk of a long file (see <see cref="TrigramIndex.ChunkBytes"/>).</summary>
    internal PositionedTrigram[][] IndexTrigramGroups { get; }

    internal bool Accepts(string path) =>
        (Includes.Length == 0 || Includes.Any(g => g.MatchesFile(path))) && !Excludes.Any(g => g.MatchesFileOrParent(path));
}

internal abstract class LineMatcher
{
    /// <summary>Matching lines of file <paramref name="index"/> of <paramref name="files"/> (null when none), at most <paramref name="limit"/>.</summary>
    public abstract List<SearchMatch>? Find(FileList files, int index, ReadOnlySpan<byte> data, int limit);

    /// <summary>
    /// Whether a character of the decoded text is a word character for <c>whole_word</c>: .NET's <c>\b</c> rule
    /// (letters, decimal digits, non-spacing marks, connector punctuation, ZWJ/ZWNJ), so that literal and regex searches
    /// agree. Characters outside the BMP are not (the regex sees their surrogates), nor is U+FFFD (invalid UTF-8).
    /// </summary>
    internal static bool IsWordChar(int c)
    {
        if (c < 0x80)
        {
            return char.IsAsciiLetterOrDigit((char)c) || c == '_';
        }
        if (c > 0xFFFF)
        {
            return false;
        }
        if (c is 0x200C or 0x200D)
        {
            return true;
        }
        return CharUnicodeInfo.GetUnicodeCategory((char)c) switch
        {
            UnicodeCategory.UppercaseLetter or UnicodeCategory.LowercaseLetter or UnicodeCategory.TitlecaseLetter
                or UnicodeCategory.ModifierLetter or UnicodeCategory.OtherLetter or UnicodeCategory.NonSpacingMark
                or UnicodeCategory.DecimalDigitNumber or UnicodeCategory.ConnectorPunctuation => true,
            _ => false,
        };
    }
}

/// <summary>Literal search on UTF-8 bytes (see <see cref="LiteralFinder"/>).</summary>
internal sealed class ByteMatcher(byte[] needle, bool caseSensitive, bool wholeWord) : LineMatcher
{
    private readonly LiteralFinder _finder = new(needle, ignoreCase: !caseSensitive);

    public override List<SearchMatch>? Find(FileList files, int index, ReadOnlySpan<byte> data, int limit)
    {
        List<SearchMatch>? matches = null;
        string? path = null;
        var lineNumber = 1;
        var counted = 0;     // newlines before this offset are in lineNumber
        var position = 0;
        while (true)
        {
            var at = _finder.IndexOf(data, position);
            if (at < 0)
            {
                break;
            }
            if (wholeWord && !IsWholeWord(data, at, _finder.Length))
            {
                position = at + 1;
                continue;
            }
            lineNumber += data[counted..at].Count((byte)'\n');
            var lineStart = data[..at].LastIndexOf((byte)'\n') + 1;
            var lineEnd = data[at..].IndexOf((byte)'\n');
            lineEnd = lineEnd < 0 ? data.Length : at + lineEnd;
            path ??= files.PathString(index);
            (matches ??= []).Add(CodeSearch.MakeMatch(path, lineNumber, data[lineStart..lineEnd], at - lineStart));
            if (matches.Count >= limit || lineEnd >= data.Length)
            {
                break;
            }
            // One result per line: continue on the next one.
            lineNumber++;
            counted = lineEnd + 1;
            position = lineEnd + 1;
        }
        return matches;
    }

    private static bool IsWholeWord(ReadOnlySpan<byte> data, int start, int length) =>
        !IsWordBefore(data, start) && !IsWordAfter(data, start + length);

    private static bool IsWordBefore(ReadOnlySpan<byte> data, int end)
    {
        if (end == 0)
        {
            return false;
        }
        var b = data[end - 1];
        if (b < 0x80)
        {
            return IsWordChar(b);
        }
        Rune.DecodeLastFromUtf8(data[Math.Max(0, end - 4)..end], out var rune, out _); // invalid: U+FFFD
        return IsWordChar(rune.Value);
    }

    private static bool IsWordAfter(ReadOnlySpan<byte> data, int start)
    {
        if (start >= data.Length)
        {
            return false;
        }
        var b = data[start];
        if (b < 0x80)
        {
            return IsWordChar(b);
        }
        Rune.DecodeFromUtf8(data[start..Math.Min(data.Length, start + 4)], out var rune, out _);
        return IsWordChar(rune.Value);
    }
}

/// <summary>
/// Regular expressions (and non-ASCII case-insensitive literals) on the decoded text. The literals every match must
/// contain (<see cref="RegexPrefilter"/>) are looked for in the raw bytes first: a file without them is neither
/// decoded nor run through the expression.
/// </summary>
internal sealed class RegexMatcher(Regex regex, LiteralFinder[] required) : LineMatcher
{
    internal int RequiredLiterals => required.Length;

    public override List<SearchMatch>? Find(FileList files, int index, ReadOnlySpan<byte> data, int limit)
    {
        foreach (var literal in required)
        {
            if (literal.IndexOf(data, 0) < 0)
            {
                return null;
            }
        }
        var text = Encoding.UTF8.GetString(data); // invalid sequences become U+FFFD
        List<SearchMatch>? matches = null;
        string? path = null;
        var lineNumber = 1;
        var counted = 0;
        var nextLineStart = 0; // a match before this is on a line already reported
        foreach (var match in regex.EnumerateMatches(text))
        {
            if (match.Index < nextLineStart)
            {
                continue;
            }
            lineNumber += text.AsSpan(counted, match.Index - counted).Count('\n');
            counted = match.Index;
            var lineStart = text.LastIndexOf('\n', Math.Max(match.Index - 1, 0)) + 1;
            if (match.Index == 0)
            {
                lineStart = 0;
            }
            var lineEnd = text.IndexOf('\n', match.Index);
            lineEnd = lineEnd < 0 ? text.Length : lineEnd;
            var line = text.AsSpan(lineStart, lineEnd - lineStart).TrimEnd('\r').ToString();
            path ??= files.PathString(index);
            (matches ??= []).Add(new SearchMatch(path, lineNumber, match.Index - lineStart + 1, CodeSearch.Excerpt(line, match.Index - lineStart)));
            if (matches.Count >= limit || lineEnd >= text.Length)
            {
                break;
            }
            nextLineStart = lineEnd + 1;
        }
        return matches;
    }
}
