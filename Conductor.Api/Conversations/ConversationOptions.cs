using Microsoft.Extensions.Options;

namespace Conductor.Api.Conversations;

/// <summary><c>Conversations:</c> limits of agent conversations (docs/conversations.md).</summary>
public sealed class ConversationOptions
{
    public const string Section = "Conversations";

    /// <summary>The most turns a conversation may ask for; the server stops it there whatever the request said.</summary>
    public int MaxTurns { get; set; } = 50;
    /// <summary>Turns when the request names none.</summary>
    public int DefaultMaxTurns { get; set; } = 10;
    public int MaxBots { get; set; } = 4;
    public int MaxTopicChars { get; set; } = 4000;
    public int MaxInstructionsChars { get; set; } = 8000;
    /// <summary>Starts allowed per user in <see cref="StartWindow"/> (counted in Postgres, so every instance agrees).</summary>
    public int StartLimit { get; set; } = 10;
    public TimeSpan StartWindow { get; set; } = TimeSpan.FromMinutes(1);
    /// <summary>How long an instance's claim on a running conversation holds without renewal (renewed every third of it).</summary>
    public TimeSpan LeaseDuration { get; set; } = TimeSpan.FromSeconds(30);
    /// <summary>How often an instance looks for running conversations whose runner is gone (an expired claim).</summary>
    public TimeSpan RecoveryInterval { get; set; } = TimeSpan.FromSeconds(5);
    /// <summary>How often a stream of a conversation run by another instance looks for new turns.</summary>
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromMilliseconds(500);
}

internal sealed class ConversationOptionsValidator : IValidateOptions<ConversationOptions>
{
    public ValidateOptionsResult Validate(string? name, ConversationOptions options)
    {
        var failures = new List<string>();
        if (options.MaxTurns is < 1 or > 1000)
        {
            failures.Add("Conversations:MaxTurns must be between 1 and 1000.");
        }
        if (options.DefaultMaxTurns < 1 || options.DefaultMaxTurns > options.MaxTurns)
        {
            failures.Add("Conversations:DefaultMaxTurns must be between 1 and MaxTurns.");
        }
        if (options.MaxBots is < 2 or > 16)
        {
            failures.Add("Conversations:MaxBots must be between 2 and 16.");
        }
        if (options.MaxTopicChars < 1 || options.MaxInstructionsChars < 1)
        {
            failures.Add("Conversations:MaxTopicChars and MaxInstructionsChars must be positive.");
        }
        if (options.StartLimit < 1)
        {
            failures.Add("Conversations:StartLimit must be at least 1.");
        }
        if (options.StartWindow < TimeSpan.FromSeconds(1))
        {
            failures.Add("Conversations:StartWindow must be at least 1 second.");
        }
        if (options.LeaseDuration < TimeSpan.FromSeconds(1))
        {
            failures.Add("Conversations:LeaseDuration must be at least 1 second.");
        }
        if (options.RecoveryInterval < TimeSpan.FromMilliseconds(100) || options.PollInterval < TimeSpan.FromMilliseconds(50))
        {
            failures.Add("Conversations:RecoveryInterval must be at least 100 ms and PollInterval at least 50 ms.");
        }
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
