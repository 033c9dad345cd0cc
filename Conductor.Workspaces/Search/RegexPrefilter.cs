using System.Text;

namespace Conductor.Workspaces.Search;

/// <summary>
/// Literal runs every match of a .NET regular expression must contain, so that a file whose bytes lack one of them
/// is skipped without decoding it or running the expression. Deliberately conservative: only the top-level sequence
/// of the pattern is read (groups, classes and escapes such as <c>\d</c> end a run; an atom followed by a quantifier
/// is dropped), and anything not understood exactly — a top-level <c>|</c>, inline options like <c>(?i)</c> or
/// <c>(?x)</c>, an unknown escape, a <c>{</c> that is not a quantifier — gives no prefilter at all. Runs are ASCII
/// only: an ASCII character of the decoded text is always the same byte in the file (invalid UTF-8 becomes U+FFFD
/// without swallowing ASCII bytes). Case-insensitive, letters that .NET also matches with non-ASCII characters
/// (k with the Kelvin sign, i with the dotted capital I, s with the long s) end a run too.
/// </summary>
internal static class RegexPrefilter
{
    /// <summary>ASCII letters whose case-insensitive .NET regex match includes a non-ASCII character.</summary>
    internal const string LettersWithNonAsciiCaseEquivalents = "IKSiks";

    private const string Metacharacters = @"\^$.|?*+()[]{}";

    /// <summary>The required runs (possibly none), longest first, at most <paramref name="max"/>.</summary>
    public static IReadOnlyList<string> RequiredLiterals(string pattern, bool ignoreCase, int max = 3)
    {
        var runs = new List<string>();
        var run = new StringBuilder();
        void EndRun()
        {
            if (run.Length > 0)
            {
                runs.Add(run.ToString());
                run.Clear();
            }
        }

        var i = 0;
        while (i < pattern.Length)
        {
            var c = pattern[i];
            int atomLength;       // characters consumed by this atom
            char? literal = null; // the atom is this one character
            switch (c)
            {
                case '|':
                    return []; // top-level alternation: no single required literal
                case '(':
                    if (i + 2 < pattern.Length && pattern[i + 1] == '?' && (char.IsAsciiLetter(pattern[i + 2]) || pattern[i + 2] is '-' or '#'))
                    {
                        // Inline options change what follows ((?i), (?x), (?-i)); (?#...) comments and (?'name' ...)
                        // are rare enough not to be worth reading: no prefilter.
                        return [];
                    }
                    atomLength = GroupLength(pattern, i);
                    if (atomLength < 0)
                    {
                        return [];
                    }
                    break;
                case '[':
                    atomLength = ClassLength(pattern, i);
                    if (atomLength < 0)
                    {
                        return [];
                    }
                    break;
                case '\\':
                    if (i + 1 >= pattern.Length)
                    {
                        return [];
                    }
                    var e = pattern[i + 1];
                    if (!char.IsAsciiLetterOrDigit(e))
                    {
                        literal = e; // \( \. \\ \  and the like: the character itself
                    }
                    else if ("dDwWsSbBAzZGntrfve".Contains(e, StringComparison.Ordinal))
                    {
                        // a class, an anchor or a control character: ends the run
                    }
                    else
                    {
                        return []; // \x41, \u0041, \p{L}, \k<name>, \1...: not read here
                    }
                    atomLength = 2;
                    break;
                case '.' or '^' or '$':
                    atomLength = 1;
                    break;
                case '*' or '+' or '?':
                    return []; // a quantifier without an atom: invalid anyway
                case '{':
                    return []; // a literal '{' (no atom before it to quantify) or an odd form
                case ')' or ']':
                    return []; // unbalanced: the parser will refuse the pattern anyway
                default:
                    literal = c;
                    atomLength = 1;
                    break;
            }

            var next = i + atomLength;
            var quantifier = QuantifierLength(pattern, next);
            if (quantifier < 0)
            {
                return [];
            }
            if (literal is { } l && quantifier == 0 && l < 0x80 && (!ignoreCase || !LettersWithNonAsciiCaseEquivalents.Contains(l, StringComparison.Ordinal)))
            {
                run.Append(l);
            }
            else
            {
                EndRun();
            }
            i = next + quantifier;
        }
        EndRun();
        return [.. runs.Distinct(StringComparer.Ordinal).OrderByDescending(r => r.Length).Take(max)];
    }

    /// <summary>Length of the quantifier at <paramref name="at"/> (0 when none), with its lazy '?'; -1 when unsure.</summary>
    private static int QuantifierLength(string pattern, int at)
    {
        if (at >= pattern.Length)
        {
            return 0;
        }
        int length;
        switch (pattern[at])
        {
            case '*' or '+' or '?':
                length = 1;
                break;
            case '{':
                var close = pattern.IndexOf('}', at);
                if (close < 0 || !IsQuantifierBody(pattern.AsSpan(at + 1, close - at - 1)))
                {
                    return -1; // .NET reads a '{' that is not a quantifier as a literal: too subtle, give up
                }
                length = close - at + 1;
                break;
            default:
                return 0;
        }
        if (at + length < pattern.Length && pattern[at + length] == '?')
        {
            length++;
        }
        if (at + length < pattern.Length && pattern[at + length] is '*' or '+' or '?' or '{')
        {
            return -1; // a nested quantifier: invalid in .NET, let the parser say so
        }
        return length;
    }

    private static bool IsQuantifierBody(ReadOnlySpan<char> body)
    {
        var comma = body.IndexOf(',');
        var low = comma < 0 ? body : body[..comma];
        var high = comma < 0 ? [] : body[(comma + 1)..];
        return low.Length > 0 && !low.ContainsAnyExceptInRange('0', '9') && !high.ContainsAnyExceptInRange('0', '9');
    }

    /// <summary>Length of the group starting at <paramref name="start"/> (a '('), or -1 when unbalanced.</summary>
    private static int GroupLength(string pattern, int start)
    {
        var depth = 0;
        for (var i = start; i < pattern.Length; i++)
        {
            switch (pattern[i])
            {
                case '\\':
                    i++;
                    break;
                case '[':
                    var length = ClassLength(pattern, i);
                    if (length < 0)
                    {
                        return -1;
                    }
                    i += length - 1;
                    break;
                case '(':
                    depth++;
                    break;
                case ')':
                    if (--depth == 0)
                    {
                        return i - start + 1;
                    }
                    break;
            }
        }
        return -1;
    }

    /// <summary>Length of the character class at <paramref name="start"/> (a '['), or -1 when unsure.</summary>
    private static int ClassLength(string pattern, int start)
    {
        var i = start + 1;
        if (i < pattern.Length && pattern[i] == '^')
        {
            i++;
        }
        if (i < pattern.Length && pattern[i] == ']')
        {
            i++; // a ']' first is literal
        }
        for (; i < pattern.Length; i++)
        {
            switch (pattern[i])
            {
                case '\\':
                    i++;
                    break;
                case '[':
                    return -1; // subtraction ([a-z-[aeiou]]) or a literal '[': not read here
                case ']':
                    return i - start + 1;
            }
        }
        return -1;
    }

    internal static bool IsMetacharacter(char c) => Metacharacters.Contains(c, StringComparison.Ordinal);
}
