namespace Conductor.Api.Conversations;

/// <summary>
/// One event of a running conversation as its runner publishes it. <see cref="Offset"/> is the number of characters of
/// the turn's text once this event is applied, which is what makes a stream resumable at any token;
/// <see cref="Attempt"/> names the generation of the turn (a new one after a restart cut the turn off).
/// </summary>
public sealed record ConversationEvent(string Type, int Turn, int BotIndex, string Attempt, string? BotName = null, string? Provider = null,
    string? Model = null, string? Text = null, int Offset = 0);
