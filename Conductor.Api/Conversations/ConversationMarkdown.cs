using System.Globalization;
using System.Text;

namespace Conductor.Api.Conversations;

/// <summary>The <c>export.md</c> transcript: the topic and bots, then each stored turn under its bot's name.</summary>
public static class ConversationMarkdown
{
    public static string Render(ConversationRecord conversation, IReadOnlyList<ConversationTurn> turns)
    {
        var text = new StringBuilder();
        text.Append("# ").AppendLine(OneLine(conversation.Topic)).AppendLine();
        text.Append(CultureInfo.InvariantCulture, $"- Status: {conversation.Status} ({conversation.TurnsDone} of {conversation.MaxTurns} turns)").AppendLine();
        text.Append(CultureInfo.InvariantCulture, $"- Started: {conversation.CreatedAt:yyyy-MM-dd HH:mm:ss} UTC").AppendLine();
        if (conversation.Error is { } error)
        {
            text.Append("- Error: ").AppendLine(OneLine(error));
        }
        text.AppendLine().AppendLine("## Bots").AppendLine();
        foreach (var (bot, index) in conversation.Bots.Select((b, i) => (b, i)))
        {
            text.Append(CultureInfo.InvariantCulture, $"{index + 1}. **{OneLine(bot.Name)}** ({bot.Provider}, {bot.Model})");
            text.AppendLine(bot.Instructions.Length > 0 ? ": " + OneLine(bot.Instructions) : "");
        }
        text.AppendLine().AppendLine("## Transcript");
        foreach (var turn in turns)
        {
            text.AppendLine().Append(CultureInfo.InvariantCulture, $"### {turn.Turn + 1}. {OneLine(turn.BotName)}").AppendLine();
            text.Append(CultureInfo.InvariantCulture, $"_{turn.Provider}, {turn.Model}_").AppendLine().AppendLine();
            text.AppendLine(turn.Content.TrimEnd());
        }
        return text.ToString();
    }

    // Names and topics are user text: kept on one line so they cannot open headings or lists of their own.
    private static string OneLine(string text) => text.ReplaceLineEndings(" ").Trim();
}
