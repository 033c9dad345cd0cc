using System.Buffers;
using System.Text;
using System.Text.RegularExpressions;
using Conductor.Workspaces.Git;
using Microsoft.Win32.SafeHandles;

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

public sealed class SearchQueryException(string message) : WorkspaceProblemException(400, "Invalid search", message);

/// <summary>
/// Searches a worktree. The file list is git's own (<c>git ls-files --cached --others --exclude-standard</c>): tracked
/// and untracked files minus what .gitignore excludes, never <c>.git</c>. Files are searched in parallel as raw
/// UTF-8 bytes with vectorised span searches (case-insensitive ASCII through a rare-byte anchor and an ASCII
/// case-folding compare); a regular expression or a non-ASCII case-insensitive query decodes the file instead.
/// Binary files (a NUL in the first 8 KiB) and symlinks are skipped. One result per matching line, in path order:
/// the first <c>max_results</c> lines of the ordered list, whatever the parallel schedule.
/// </summary>
public sealed class CodeSearch(GitCli git)
{
    public const int DefaultMaxResults = 50;
    public const int MaxResultsCap = 1000;
    public const int MaxQueryLength = 1000;
    public const int MaxContentChars = 300;
    public const int BinaryProbeBytes = 8192;
    private const long MaxSearchedFileBytes = 64L * 1024 * 1024;

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
            includes = query.Include.Where(g => !string.IsNullOrWhiteSpace(g)).Select(Glob.Parse).ToArray();
            excludes = query.Exclude.Where(g => !string.IsNullOrWhiteSpace(g)).Select(Glob.Parse).ToArray();
        }
        catch (ArgumentException ex)
        {
            throw new SearchQueryException($"Invalid include/exclude glob: {ex.Message}");
        }
        var max = Math.Min(query.MaxResults, maxResultsCap);

        LineMatcher matcher;
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
                matcher = new RegexMatcher(new Regex(pattern, options, regexTimeout));
            }
            catch (ArgumentException ex)
            {
                throw new SearchQueryException($"Invalid regular expression: {ex.Message}");
            }
        }
        else
        {
            matcher = new ByteMatcher(Encoding.UTF8.GetBytes(query.Text), query.CaseSensitive, query.WholeWord);
        }
        return new PreparedSearch(matcher, includes, excludes, max);
    }

    /// <summary>Relative paths of the files to search, in git's (byte) order.</summary>
    public async Task<IReadOnlyList<string>> ListFilesAsync(string worktree, CancellationToken cancellationToken)
    {
        var result = await git.RunCheckedAsync(new GitInvocation(["ls-files", "-z", "--cached", "--others", "--exclude-standard", "--deduplicate"])
        {
            WorkingDirectory = worktree,
        }, cancellationToken).ConfigureAwait(false);
        var bytes = result.StandardOutputBytes;
        var files = new List<string>(bytes.Length / 32);
        var start = 0;
        for (var i = 0; i < bytes.Length; i++)
        {
            if (bytes[i] == 0)
            {
                if (i > start)
                {
                    files.Add(Encoding.UTF8.GetString(bytes, start, i - start));
                }
                start = i + 1;
            }
        }
        // ls-files lists untracked files before tracked ones; results are promised in path order.
        files.Sort(StringComparer.Ordinal);
        return files;
    }

    public async Task<IReadOnlyList<SearchMatch>> SearchAsync(string worktree, PreparedSearch search, CancellationToken cancellationToken)
    {
        var files = await ListFilesAsync(worktree, cancellationToken).ConfigureAwait(false);
        return Search(worktree, files, search, cancellationToken);
    }

    /// <summary>Searches the given files (relative to <paramref name="root"/>) and returns the first matches in list order.</summary>
    public static IReadOnlyList<SearchMatch> Search(string root, IReadOnlyList<string> files, PreparedSearch search, CancellationToken cancellationToken)
    {
        var candidates = files.Where(search.Accepts).ToArray();
        var perFile = new List<SearchMatch>?[candidates.Length];
        var done = new bool[candidates.Length];
        var found = 0;
        var prefix = 0;           // files [0, prefix) are done
        var prefixMatches = 0;    // matches in them
        var options = new ParallelOptions { CancellationToken = cancellationToken, MaxDegreeOfParallelism = Environment.ProcessorCount };
        try
        {
            while (prefix < candidates.Length && prefixMatches < search.MaxResults)
            {
                var from = prefix;
                Parallel.For(from, candidates.Length, options, (i, state) =>
                {
                    if (done[i])
                    {
                        return;
                    }
                    var matches = SearchFile(root, candidates[i], search);
                    perFile[i] = matches;
                    Volatile.Write(ref done[i], true);
                    if (matches is not null && Interlocked.Add(ref found, matches.Count) >= search.MaxResults)
                    {
                        // Every file before this one still completes: the ordered prefix stays exact.
                        state.Break();
                    }
                });
                while (prefix < candidates.Length && done[prefix] && prefixMatches < search.MaxResults)
                {
                    prefixMatches += perFile[prefix]?.Count ?? 0;
                    prefix++;
                }
            }
        }
        catch (AggregateException ex) when (ex.InnerException is RegexMatchTimeoutException)
        {
            throw new SearchQueryException("The regular expression took too long; make it more specific.");
        }
        var results = new List<SearchMatch>(Math.Min(search.MaxResults, prefixMatches));
        for (var i = 0; i < prefix && results.Count < search.MaxResults; i++)
        {
            if (perFile[i] is { } matches)
            {
                results.AddRange(matches.Take(search.MaxResults - results.Count));
            }
        }
        return results;
    }

    private static List<SearchMatch>? SearchFile(string root, string relativePath, PreparedSearch search)
    {
        var fullPath = Path.Join(root, relativePath);
        SafeFileHandle handle;
        try
        {
            // Symlinks are not followed: their target may lie outside the worktree.
            if (new FileInfo(fullPath).LinkTarget is not null)
            {
                return null;
            }
            handle = File.OpenHandle(fullPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null; // deleted since the listing, a directory (submodule), unreadable
        }
        using (handle)
        {
            long length;
            try
            {
                length = RandomAccess.GetLength(handle);
            }
            catch (IOException)
            {
                return null;
            }
            if (length == 0 || length > MaxSearchedFileBytes)
            {
                return null;
            }
            var buffer = ArrayPool<byte>.Shared.Rent((int)length);
            try
            {
                var read = 0;
                while (read < length)
                {
                    var n = RandomAccess.Read(handle, buffer.AsSpan(read, (int)length - read), read);
                    if (n == 0)
                    {
                        break;
                    }
                    read += n;
                }
                var data = buffer.AsSpan(0, read);
                if (data[..Math.Min(read, BinaryProbeBytes)].Contains((byte)0))
                {
                    return null;
                }
                return search.Matcher.Find(relativePath, data, search.MaxResults);
            }
            catch (IOException)
            {
                return null;
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }
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
    internal PreparedSearch(LineMatcher matcher, Glob[] includes, Glob[] excludes, int maxResults)
    {
        Matcher = matcher;
        Includes = includes;
        Excludes = excludes;
        MaxResults = maxResults;
    }

    internal LineMatcher Matcher { get; }
    internal Glob[] Includes { get; }
    internal Glob[] Excludes { get; }
    public int MaxResults { get; }

    internal bool Accepts(string path) =>
        (Includes.Length == 0 || Includes.Any(g => g.MatchesFile(path))) && !Excludes.Any(g => g.MatchesFileOrParent(path));
}

internal abstract class LineMatcher
{
    /// <summary>Matching lines of one file (null when none), at most <paramref name="limit"/>.</summary>
    public abstract List<SearchMatch>? Find(string path, ReadOnlySpan<byte> data, int limit);
}

/// <summary>Literal search on UTF-8 bytes.</summary>
internal sealed class ByteMatcher : LineMatcher
{
    private readonly byte[] _needle;
    private readonly bool _caseSensitive;
    private readonly bool _wholeWord;
    private readonly int _anchor;           // offset in the needle of the byte searched for first
    private readonly SearchValues<byte> _anchorValues;

    public ByteMatcher(byte[] needle, bool caseSensitive, bool wholeWord)
    {
        _needle = needle;
        _caseSensitive = caseSensitive;
        _wholeWord = wholeWord;
        _anchor = RarestByte(needle);
        var b = needle[_anchor];
        _anchorValues = SearchValues.Create(caseSensitive || !char.IsAsciiLetter((char)b)
            ? [b]
            : [(byte)char.ToLowerInvariant((char)b), (byte)char.ToUpperInvariant((char)b)]);
    }

    public override List<SearchMatch>? Find(string path, ReadOnlySpan<byte> data, int limit)
    {
        List<SearchMatch>? matches = null;
        var lineNumber = 1;
        var counted = 0;     // newlines before this offset are in lineNumber
        var position = 0;
        while (position <= data.Length - _needle.Length)
        {
            var at = NextCandidate(data, position);
            if (at < 0)
            {
                break;
            }
            if (_wholeWord && !IsWordBoundary(data, at, _needle.Length))
            {
                position = at + 1;
                continue;
            }
            lineNumber += data[counted..at].Count((byte)'\n');
            var lineStart = data[..at].LastIndexOf((byte)'\n') + 1;
            var lineEnd = data[at..].IndexOf((byte)'\n');
            lineEnd = lineEnd < 0 ? data.Length : at + lineEnd;
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

    private int NextCandidate(ReadOnlySpan<byte> data, int from)
    {
        if (_caseSensitive)
        {
            var i = data[from..].IndexOf(_needle);
            return i < 0 ? -1 : from + i;
        }
        var n = _needle.Length;
        var searchFrom = from + _anchor;
        while (searchFrom <= data.Length - (n - _anchor))
        {
            var i = data[searchFrom..].IndexOfAny(_anchorValues);
            if (i < 0)
            {
                return -1;
            }
            var start = searchFrom + i - _anchor;
            if (start + n > data.Length)
            {
                return -1;
            }
            if (Ascii.EqualsIgnoreCase(data.Slice(start, n), _needle))
            {
                return start;
            }
            searchFrom += i + 1;
        }
        return -1;
    }

    private static bool IsWordBoundary(ReadOnlySpan<byte> data, int start, int length) =>
        (start == 0 || !IsWordByte(data[start - 1])) && (start + length >= data.Length || !IsWordByte(data[start + length]));

    private static bool IsWordByte(byte b) => b >= 0x80 || char.IsAsciiLetterOrDigit((char)b) || b == (byte)'_';

    /// <summary>The needle byte least likely in source code (letters and common punctuation are frequent).</summary>
    private static int RarestByte(byte[] needle)
    {
        var best = 0;
        var bestScore = int.MaxValue;
        for (var i = 0; i < needle.Length; i++)
        {
            var score = Frequency(needle[i]);
            if (score < bestScore)
            {
                best = i;
                bestScore = score;
            }
        }
        return best;
    }

    private static int Frequency(byte b)
    {
        var c = (char)char.ToLowerInvariant((char)b);
        // Rough ranks from source text: whitespace and vowels everywhere, x/q/z/j/digits rare.
        const string common = " etaoinsr\nlcdu_mp(),;fh.gb=*>-y/\"w";
        var rank = common.IndexOf(c, StringComparison.Ordinal);
        return rank < 0 ? 0 : (common.Length - rank);
    }
}

/// <summary>Regular expressions (and non-ASCII case-insensitive literals) on the decoded text.</summary>
internal sealed class RegexMatcher(Regex regex) : LineMatcher
{
    public override List<SearchMatch>? Find(string path, ReadOnlySpan<byte> data, int limit)
    {
        var text = Encoding.UTF8.GetString(data); // invalid sequences become U+FFFD
        List<SearchMatch>? matches = null;
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
