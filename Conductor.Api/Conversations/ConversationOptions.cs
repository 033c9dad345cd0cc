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
