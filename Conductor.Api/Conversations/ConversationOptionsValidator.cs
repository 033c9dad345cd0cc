using Microsoft.Extensions.Options;

namespace Conductor.Api.Conversations;

/// <summary>Refuses to start with conversation limits that make no sense.</summary>
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
