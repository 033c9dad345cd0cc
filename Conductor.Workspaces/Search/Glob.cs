using System.Text;
using System.Text.RegularExpressions;

namespace Conductor.Workspaces.Search;

/// <summary>
/// A gitignore-style glob for include/exclude filters: <c>*</c> and <c>?</c> stay within a path segment, <c>**</c>
/// crosses segments, <c>{a,b}</c> is either, <c>[abc]</c> a character class. A pattern without '/' is matched
/// against a single segment (<c>*.cs</c> matches <c>src/a.cs</c>); one with '/' against the whole relative path.
/// The one glob type of the solution: code search's include/exclude filters and the change-set policy's path rules
/// (case-insensitive there) both use it.
/// </summary>
public sealed class Glob
{
    public const int MaxPatternLength = 500;

    // Generous: a glob is a short pattern matched against a path; only a machine under heavy load comes near this.
    private static readonly TimeSpan MatchTimeout = TimeSpan.FromSeconds(1);
    private readonly Regex _regex;

    private Glob(string pattern, Regex regex, bool segmentPattern)
    {
        Pattern = pattern;
        _regex = regex;
        IsSegmentPattern = segmentPattern;
    }

    public string Pattern { get; }

    /// <summary>True when the pattern has no '/': it is matched against one segment (a file or folder name).</summary>
    public bool IsSegmentPattern { get; }

    public static Glob Parse(string pattern, bool ignoreCase = false)
    {
        if (string.IsNullOrWhiteSpace(pattern) || pattern.Length > MaxPatternLength)
        {
            throw new ArgumentException($"A glob must be 1 to {MaxPatternLength} characters.", nameof(pattern));
        }
        var trimmed = pattern.Trim().TrimStart('/');
        if (trimmed.EndsWith('/'))
        {
            trimmed += "**";
        }
        var segment = !trimmed.Contains('/', StringComparison.Ordinal);
        var regex = new StringBuilder("^");
        var braces = 0;
        for (var i = 0; i < trimmed.Length; i++)
        {
            var c = trimmed[i];
            switch (c)
            {
                case '*' when i + 1 < trimmed.Length && trimmed[i + 1] == '*':
                    i++;
                    if (i + 1 < trimmed.Length && trimmed[i + 1] == '/')
                    {
                        i++;
                        regex.Append("(?:.*/)?");
                    }
                    else
                    {
                        regex.Append(".*");
                    }
                    break;
                case '*':
                    regex.Append("[^/]*");
                    break;
                case '?':
                    regex.Append("[^/]");
                    break;
                case '{':
                    braces++;
                    regex.Append("(?:");
                    break;
                case '}' when braces > 0:
                    braces--;
                    regex.Append(')');
                    break;
                case ',' when braces > 0:
                    regex.Append('|');
                    break;
                case '[':
                    var end = trimmed.IndexOf(']', i + 1);
                    if (end > i + 1)
                    {
                        var body = trimmed[(i + 1)..end].Replace("\\", "\\\\", StringComparison.Ordinal);
                        regex.Append('[').Append(body.StartsWith('!') ? "^" + body[1..] : body).Append(']');
                        i = end;
                    }
                    else
                    {
                        regex.Append("\\[");
                    }
                    break;
                default:
                    regex.Append(Regex.Escape(c.ToString()));
                    break;
            }
        }
        if (braces != 0)
        {
            throw new ArgumentException("Unbalanced braces in the glob.", nameof(pattern));
        }
        regex.Append('$');
        return new Glob(pattern, new Regex(regex.ToString(), RegexOptions.CultureInvariant | (ignoreCase ? RegexOptions.IgnoreCase : RegexOptions.None), MatchTimeout), segment);
    }

    /// <summary>Include semantics: a segment pattern must match the file name; a path pattern the whole path.</summary>
    public bool MatchesFile(string relativePath) =>
        IsSegmentPattern ? _regex.IsMatch(FileName(relativePath)) : _regex.IsMatch(relativePath);

    /// <summary>Exclude semantics: also true when a folder on the way matches (<c>node_modules</c>, <c>build/</c>).</summary>
    public bool MatchesFileOrParent(string relativePath)
    {
        if (IsSegmentPattern)
        {
            foreach (var segment in relativePath.Split('/'))
            {
                if (_regex.IsMatch(segment))
                {
                    return true;
                }
            }
            return false;
        }
        if (_regex.IsMatch(relativePath))
        {
            return true;
        }
        for (var slash = relativePath.IndexOf('/', StringComparison.Ordinal); slash > 0; slash = relativePath.IndexOf('/', slash + 1))
        {
            if (_regex.IsMatch(relativePath[..slash]))
            {
                return true;
            }
        }
        return false;
    }

    private static string FileName(string path)
    {
        var slash = path.LastIndexOf('/');
        return slash < 0 ? path : path[(slash + 1)..];
    }
}
