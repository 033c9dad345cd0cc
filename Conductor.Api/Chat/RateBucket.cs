namespace Conductor.Api.Chat;

/// <summary>Which of a user's token buckets a request takes from.</summary>
public enum RateBucket { Messages, History }
