namespace Conductor.Api.Commands;

/// <summary>
/// Matches a request against a room's allowlist on the parsed argv, never on a shell string (nothing here is ever
/// given to a shell): the argv must begin with an entry's words exactly, and every further argument must be either
/// one of the entry's options or a plain value. Refused outright: <c>--</c> (it passes arguments beyond a tool's own
/// option parsing), options the entry does not list, shell metacharacters (some tools, npm scripts among them, hand
/// their arguments to a shell), <c>NAME=value</c> words (make overrides), and paths that leave the worktree (absolute, <c>~</c>, or <c>..</c> climbing out).
/// </summary>
public static class CommandPolicy
{
    public const int MaxArguments = 64;
    public const int MaxArgumentLength = 1024;
    private static readonly char[] ShellMetacharacters = [.. ";|&$`<>(){}\\'\""];

    public static CommandDecision Decide(string? command, IReadOnlyList<string>? args, IReadOnlyList<AllowedCommand> allowlist)
    {
        if (string.IsNullOrWhiteSpace(command))
        {
            return Malformed("command is required.");
        }
        List<string> argv;
        if (args is null)
        {
            argv = [.. command.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries)];
        }
        else
        {
            if (command.Any(char.IsWhiteSpace))
            {
                return Malformed("With args, command is the program alone (no spaces).");
            }
            argv = [command, .. args];
        }
        if (argv.Count > MaxArguments)
        {
            return Malformed($"At most {MaxArguments} arguments.");
        }
        foreach (var argument in argv)
        {
            if (argument.Length == 0 || argument.Length > MaxArgumentLength)
            {
                return Malformed($"Arguments must be 1 to {MaxArgumentLength} characters.");
            }
            if (argument.Any(char.IsControl))
            {
                return Malformed("Arguments may not contain control characters.");
            }
        }
        if (argv[0].Contains('/', StringComparison.Ordinal))
        {
            return Refused($"'{Shorten(argv[0])}' is a path; commands name a program from the allowlist.");
        }

        AllowedCommand? match = null;
        var prefixLength = 0;
        foreach (var entry in allowlist)
        {
            var words = Words(entry.Command);
            if (words.Length > prefixLength && words.Length <= argv.Count && words.SequenceEqual(argv.Take(words.Length), StringComparer.Ordinal))
            {
                match = entry;
                prefixLength = words.Length;
            }
        }
        if (match is null)
        {
            return Refused($"'{Shorten(string.Join(' ', argv))}' is not on this room's allowlist.");
        }
        var options = new HashSet<string>(match.Options ?? [], StringComparer.Ordinal);
        foreach (var argument in argv.Skip(prefixLength))
        {
            if (argument == "--")
            {
                return Refused("'--' is not allowed: it would pass arguments past the tool's own option checks.");
            }
            string? value = argument;
            if (argument.StartsWith('-'))
            {
                var equals = argument.IndexOf('=', StringComparison.Ordinal);
                var name = equals < 0 ? argument : argument[..equals];
                if (!options.Contains(name))
                {
                    return Refused($"The option '{Shorten(name)}' is not allowed for '{match.Command}'.");
                }
                value = equals < 0 ? null : argument[(equals + 1)..];
            }
            if (value is null)
            {
                continue;
            }
            if (value.IndexOfAny(ShellMetacharacters) >= 0)
            {
                return Refused($"'{Shorten(value)}' contains a shell metacharacter; arguments are plain words and worktree paths.");
            }
            if (!argument.StartsWith('-') && value.Contains('=', StringComparison.Ordinal))
            {
                return Refused($"'{Shorten(value)}' looks like an assignment (make's NAME=value overrides the Makefile); not allowed.");
            }
            if (!StaysInWorktree(value))
            {
                return Refused($"'{Shorten(value)}' points outside the worktree.");
            }
        }
        return new CommandDecision(argv, null);
    }

    /// <summary>Null when <paramref name="entry"/> is a valid allowlist entry, else what is wrong with it.</summary>
    public static string? ValidateEntry(AllowedCommand entry)
    {
        var words = Words(entry.Command ?? "");
        if (words.Length == 0 || words.Length > 8)
        {
            return "an entry's command has 1 to 8 words.";
        }
        if (words[0].Contains('/', StringComparison.Ordinal))
        {
            return $"'{Shorten(words[0])}': an entry names a program, not a path.";
        }
        foreach (var word in words)
        {
            if (word.StartsWith('-') || word.IndexOfAny(ShellMetacharacters) >= 0 || word.Any(char.IsControl) || word.Length > 100)
            {
                return $"'{Shorten(word)}': an entry's words are plain (no options, no shell metacharacters).";
            }
        }
        foreach (var option in entry.Options ?? [])
        {
            if (option is null || option == "--" || !option.StartsWith('-') || option.Contains('=', StringComparison.Ordinal) || option.Length > 100
                || option.Any(c => char.IsControl(c) || char.IsWhiteSpace(c)))
            {
                return $"'{Shorten(option ?? "")}': options are single words starting with '-' (not '--' alone, no '=').";
            }
        }
        return null;
    }

    private static string[] Words(string command) => command.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);

    /// <summary>Relative paths that stay inside when resolved from the worktree's root (the sandbox's working folder).</summary>
    private static bool StaysInWorktree(string value)
    {
        if (value.StartsWith('/') || value.StartsWith('~'))
        {
            return false;
        }
        var depth = 0;
        foreach (var segment in value.Split('/'))
        {
            if (segment == "..")
            {
                if (--depth < 0)
                {
                    return false;
                }
            }
            else if (segment is not ("" or "."))
            {
                depth++;
            }
        }
        return true;
    }

    private static CommandDecision Malformed(string message) => new(null, message, Malformed: true);

    private static CommandDecision Refused(string message) => new(null, message);

    private static string Shorten(string text) => ApiProblems.Truncate(text);
}
