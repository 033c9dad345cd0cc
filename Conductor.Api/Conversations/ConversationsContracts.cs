using System.Text.Json.Serialization;

namespace Conductor.Api.Conversations;

/// <summary>One bot of a conversation as stored and returned: the model is always resolved (the provider's default if none was named).</summary>
public sealed record ConversationBot(string Name, string Provider, string Model, string Instructions);

public sealed record BotRequest(string? Name, string? Provider, string? Model, string? Instructions);

public sealed record StartConversationRequest(string? Topic, IReadOnlyList<BotRequest>? Bots, int? MaxTurns);

/// <summary>PATCH body: each member given replaces the bot's value for its next turn.</summary>
public sealed record UpdateBotRequest(string? Instructions, string? Model, string? Provider);

public sealed record ConversationTurn(int Turn, int BotIndex, string BotName, string Provider, string Model, string Content, DateTimeOffset CreatedAt,
    [property: JsonIgnore] string Attempt);

public sealed record ConversationRecord(Guid Id, Guid RoomId, Guid CreatedBy, string Topic, IReadOnlyList<ConversationBot> Bots, int MaxTurns,
    int TurnsDone, string Status, string? Error, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt, DateTimeOffset? EndedAt);

public sealed record ConversationResponse(Guid ConversationId, Guid RoomId, Guid CreatedBy, string Topic, IReadOnlyList<ConversationBot> Bots,
    int MaxTurns, int TurnsDone, string Status,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Error,
    DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] DateTimeOffset? EndedAt)
{
    public static ConversationResponse From(ConversationRecord c) =>
        new(c.Id, c.RoomId, c.CreatedBy, c.Topic, c.Bots, c.MaxTurns, c.TurnsDone, c.Status, c.Error, c.CreatedAt, c.UpdatedAt, c.EndedAt);
}

public sealed record ConversationListResponse(Guid RoomId, IReadOnlyList<ConversationResponse> Conversations);

/// <summary><c>export.json</c>: the conversation and every stored turn.</summary>
public sealed record ConversationExport(ConversationResponse Conversation, IReadOnlyList<ConversationTurn> Turns);
