namespace Conductor.Api.Conversations;

/// <summary>A bot's provider cannot be used (no longer configured).</summary>
public sealed class ConversationProviderException(string message) : Exception(message);
