using System.Security.Claims;
using System.Text.Json;
using System.Text.Json.Serialization;
using Conductor.Api.Auth;

namespace Conductor.Api.Chat;

/// <summary>The kinds of chat message. Clients may send the first three; <c>system</c> and <c>ai</c> come from the server.</summary>
public static class ChatKinds
{
    public const string Text = "text";
    public const string CodeSnippet = "code_snippet";
    public const string File = "file";
    public const string System = "system";
    public const string Ai = "ai";

    public static bool IsKnown(string kind) => kind is Text or CodeSnippet or File or System or Ai;

    public static bool ClientMaySend(string kind) => kind is Text or CodeSnippet or File;
}

/// <summary>
/// A stored message, exactly as every transport delivers it. <see cref="Seq"/> is the room's order (the order the
/// database holds); <see cref="Timestamp"/> is UTC and strictly increasing within a room.
/// </summary>
public sealed record ChatMessage(
    Guid Id,
    Guid RoomId,
    long Seq,
    Guid? UserId,
    string Login,
    string Kind,
    JsonElement Content,
    DateTime Timestamp,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] Guid? ReplyTo) : IChatFrame
{
    [JsonPropertyOrder(-1)]
    public string Type => "chat";
}

/// <summary>What a client sends: the hub's SendMessage argument, the body of POST /chat/{room_id}/messages, a socket's chat frame.</summary>
public sealed record SendMessageRequest(Guid? Id, JsonElement Content, string? Kind, Guid? ReplyTo);

/// <summary>A history query: <see cref="Since"/> pages forwards (oldest first), <see cref="Before"/> pages backwards.</summary>
public sealed record HistoryRequest(DateTimeOffset? Since, Guid? Before, int? Limit);

public sealed record ReadReceipt(Guid RoomId, Guid UserId, Guid MessageId, DateTime ReadAt);

public sealed record TypingUser(Guid UserId, string Login, DateTime ExpiresAt);

public sealed record OnlineUser(Guid UserId, string Login);

/// <summary>The hub's answer to JoinRoom: enough to render the room at once.</summary>
public sealed record JoinRoomResult(Guid RoomId, IReadOnlyList<ChatMessage> Messages, IReadOnlyList<TypingUser> Typing, IReadOnlyList<OnlineUser> Online);

/// <summary>The authenticated caller, read from the token's claims, never from a request body.</summary>
public sealed record ChatCaller(Guid UserId, string Login)
{
    public static ChatCaller From(ClaimsPrincipal user) => new(user.GetUserId(), user.GetLogin());
}

/// <summary>A refusal with a stable code: an <c>error</c> frame on sockets, a HubException on the hub, problem details over HTTP.</summary>
public sealed class ChatException(string code, string message, int status = StatusCodes.Status400BadRequest) : Exception(message)
{
    public string Code { get; } = code;
    public int Status { get; } = status;
}

/// <summary>The error codes clients can rely on (docs/chat.md lists them).</summary>
public static class ChatErrors
{
    public const string InvalidJson = "invalid_json";
    public const string InvalidFrame = "invalid_frame";
    public const string UnknownType = "unknown_type";
    public const string MessageTooLarge = "message_too_large";
    public const string InvalidMessage = "invalid_message";
    public const string InvalidQuery = "invalid_query";
    public const string NotInRoom = "not_in_room";
    public const string RoomEnded = "room_ended";
    public const string NotFound = "not_found";
    public const string IdConflict = "id_conflict";
    public const string RateLimited = "rate_limited";
    public const string Unavailable = "unavailable";

    public static ChatException NotAMember() =>
        new(NotInRoom, "You are not a member of this room.", StatusCodes.Status403Forbidden);
}

/// <summary>The JSON every chat frame uses: snake_case, as the rest of the Api.</summary>
public static class ChatJson
{
    public static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web)
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
    };
}
