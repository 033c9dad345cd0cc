using System.Text.RegularExpressions;

namespace Conductor.Api.AiChat;

/// <summary>Finds an assistant's mention (<c>@ai</c>) in a text message: a whole word after '@', not inside an address.</summary>
public static partial class AiMentions
{
    public static bool IsValidName(string name) => ValidName().IsMatch(name);

    /// <summary>The first assistant name mentioned in <paramref name="text"/>, or null.</summary>
    public static string? Find(string text, IReadOnlyList<string> assistants)
    {
        foreach (Match match in Mention().Matches(text))
        {
            var name = match.Groups["name"].Value;
            var known = assistants.FirstOrDefault(a => string.Equals(a, name, StringComparison.OrdinalIgnoreCase));
            if (known is not null)
            {
                return known;
            }
        }
        return null;
    }

    // '@' not preceded by a word character (alice@ai.com is an address), the name, then no further name character.
    [GeneratedRegex(@"(?<![\w@.])@(?<name>[A-Za-z0-9_-]{1,40})(?![A-Za-z0-9_-])", RegexOptions.CultureInvariant)]
    private static partial Regex Mention();

    [GeneratedRegex("^[a-z0-9_-]{1,40}$", RegexOptions.CultureInvariant)]
    private static partial Regex ValidName();
}
