using System.ComponentModel.DataAnnotations;

namespace Conductor.Api.AiChat;

/// <summary>AI answers in room chat, bound from the <c>AiChat</c> section and validated at start-up (docs/chat.md).</summary>
public sealed class AiChatOptions : IValidatableObject
{
    public const string SectionName = "AiChat";

    /// <summary>Names members mention to ask (<c>@ai</c>); the first is the login the answers are posted under.</summary>
    public string[] Assistants { get; set; } = ["ai"];

    /// <summary>How many of the room's latest messages the assistant reads.</summary>
    [Range(1, 200)]
    public int HistoryMessages { get; set; } = 30;

    /// <summary>Answers a user may ask for in a burst (a Redis token bucket shared by every Api instance)...</summary>
    [Range(1, 1_000_000)]
    public int AnswerBurst { get; set; } = 3;

    /// <summary>...and how many per minute the bucket refills.</summary>
    [Range(0.1, 1_000_000)]
    public double AnswersPerMinute { get; set; } = 6;

    /// <summary>Upper bound on one answer, tool calls included.</summary>
    public TimeSpan AnswerTimeout { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>Largest tool result (a file, search hits) handed to the model, in characters.</summary>
    [Range(256, 1_000_000)]
    public int MaxToolResultChars { get; set; } = 12_000;

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (Assistants.Length == 0 || Assistants.Any(a => !AiMentions.IsValidName(a)))
        {
            yield return new ValidationResult("AiChat:Assistants needs at least one name of 1-40 characters of a-z, 0-9, '-' and '_'.",
                [nameof(Assistants)]);
        }
        if (AnswerTimeout <= TimeSpan.Zero)
        {
            yield return new ValidationResult("AiChat:AnswerTimeout must be positive.", [nameof(AnswerTimeout)]);
        }
    }
}
