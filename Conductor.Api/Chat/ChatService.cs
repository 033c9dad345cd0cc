using System.Text;
using System.Text.Json;
using Conductor.Api.Rooms;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Conductor.Api.Chat;

/// <summary>
/// Chat's one service, used by the hub, the raw socket and the HTTP API alike: checks membership (from the instance's
/// <see cref="RoomStateCache"/>) and limits, stores (Postgres first, always, grouped with other sends by
/// <see cref="ChatMessageWriter"/>), then publishes the stored message on <c>room:{id}:chat</c> for every instance to fan out.
/// </summary>
public sealed partial class ChatService(
    ChatStore store,
    ChatMessageWriter writer,
    IRoomMembership membership,
    ChatRateLimiter rateLimiter,
    ChatTyping typing,
    IConnectionMultiplexer redis,
    IOptions<ChatOptions> options,
    Conductor.Api.AiChat.AiChatResponder ai,
    ILogger<ChatService> logger)
{
    private ChatOptions Limits => options.Value;

    /// <summary>Throws <c>not_in_room</c> (403) unless the caller is a member of the room.</summary>
    public async Task EnsureMemberAsync(ChatCaller caller, Guid roomId, CancellationToken cancellationToken)
    {
        // The same decision as every room route's RequireRoomAccess(); the hub and the socket say it as a chat error.
        if (await membership.DecideAsync(roomId, caller.UserId, RoomRole.Guest, write: false, cancellationToken) is not null)
        {
            throw ChatErrors.NotAMember();
        }
    }

    /// <summary>Validates, rate-limits, stores and publishes a client's message. A known id answers with the stored message.</summary>
    public async Task<(ChatMessage Message, bool Created)> SendAsync(ChatCaller caller, Guid roomId, SendMessageRequest request, CancellationToken cancellationToken)
    {
        var kind = request.Kind ?? ChatKinds.Text;
        if (!ChatKinds.IsKnown(kind))
        {
            throw new ChatException(ChatErrors.InvalidMessage, $"Unknown message kind '{Truncate(kind)}'.");
        }
        if (!ChatKinds.ClientMaySend(kind))
        {
            throw new ChatException(ChatErrors.InvalidMessage, $"Clients cannot send '{kind}' messages.");
        }
        var content = NormalizeContent(kind, request.Content);
        await EnsureMemberAsync(caller, roomId, cancellationToken);
        await EnsureNotEndedAsync(roomId, cancellationToken);
        await rateLimiter.TakeAsync(RateBucket.Messages, caller.UserId, cancellationToken);
        // A mention of the assistant costs an AI answer too, taken before storing so a refusal stores nothing; a
        // resend of a message already stored was answered (or refused) the first time.
        var assistant = ai.MentionIn(kind, request.Content);
        if (assistant is not null && (request.Id is not { } resendId || await store.GetAsync(resendId, cancellationToken) is null))
        {
            await ai.TakeAnswerTokenAsync(caller.UserId, cancellationToken);
        }
        var (message, created) = await StoreAndPublishAsync(
            new NewChatMessage(request.Id ?? Guid.CreateVersion7(), roomId, caller.UserId, caller.Login, kind, content, request.ReplyTo),
            caller.UserId, cancellationToken);
        if (created && assistant is not null)
        {
            ai.Start(message, caller, assistant);
        }
        return (message, created);
    }

    /// <summary>Stops a running AI answer in the room (any member may); <c>not_found</c> when none runs with that id.</summary>
    public async Task StopAiAnswerAsync(ChatCaller caller, Guid roomId, Guid messageId, CancellationToken cancellationToken)
    {
        await EnsureMemberAsync(caller, roomId, cancellationToken);
        await ai.StopAnswerAsync(caller, roomId, messageId, cancellationToken);
    }

    /// <summary>
    /// Posts a server-side message (<c>system</c> or <c>ai</c>) on behalf of another feature: no membership or rate
    /// limit, the same store-then-publish path.
    /// </summary>
    public Task<ChatMessage> PostServerMessageAsync(Guid roomId, string kind, string login, string text, Guid? userId, CancellationToken cancellationToken) =>
        PostServerMessageAsync(roomId, kind, login, text, userId, null, null, cancellationToken);

    /// <summary>A server-side message with a chosen id (an AI answer keeps the id its stream had) answering another.</summary>
    public async Task<ChatMessage> PostServerMessageAsync(Guid roomId, string kind, string login, string text, Guid? userId, Guid? id, Guid? replyTo,
        CancellationToken cancellationToken)
    {
        if (kind is not (ChatKinds.System or ChatKinds.Ai))
        {
            throw new ArgumentException("Server messages are 'system' or 'ai'.", nameof(kind));
        }
        var content = NormalizeContent(ChatKinds.Text, JsonSerializer.SerializeToElement(text));
        var (message, _) = await StoreAndPublishAsync(new NewChatMessage(id ?? Guid.CreateVersion7(), roomId, userId, login, kind, content, replyTo), userId, cancellationToken);
        return message;
    }

    private async Task<(ChatMessage Message, bool Created)> StoreAndPublishAsync(NewChatMessage message, Guid? senderId, CancellationToken cancellationToken)
    {
        if (message.ReplyTo is { } replyTo)
        {
            var original = await store.GetAsync(replyTo, cancellationToken);
            if (original is null || original.RoomId != message.RoomId)
            {
                throw new ChatException(ChatErrors.InvalidMessage, "reply_to is not a message of this room.");
            }
        }
        // Stored (grouped with whatever else this instance is storing) before this returns; by then it is on its way to
        // this instance's clients and its publish to the others is issued.
        var (stored, created) = await writer.WriteAsync(message, cancellationToken);
        if (stored.RoomId != message.RoomId || stored.UserId != senderId)
        {
            // Ids are global: someone else's id must not reveal their message, nor be claimed.
            throw new ChatException(ChatErrors.IdConflict, "A different message already has this id; choose another.", StatusCodes.Status409Conflict);
        }
        if (created)
        {
            LogStored(logger, stored.Id, stored.RoomId, stored.Seq, stored.Kind);
        }
        return (stored, created);
    }

    public async Task<IReadOnlyList<ChatMessage>> GetHistoryAsync(ChatCaller caller, Guid roomId, HistoryRequest request, CancellationToken cancellationToken)
    {
        if (request.Since is not null && request.Before is not null)
        {
            throw new ChatException(ChatErrors.InvalidQuery, "Use either since or before, not both.");
        }
        if (request.Limit is < 1)
        {
            throw new ChatException(ChatErrors.InvalidQuery, "limit must be at least 1.");
        }
        var limit = Math.Min(request.Limit ?? Limits.DefaultHistoryLimit, Limits.MaxHistoryLimit);
        await EnsureMemberAsync(caller, roomId, cancellationToken);
        await rateLimiter.TakeAsync(RateBucket.History, caller.UserId, cancellationToken);
        if (request.Since is { } since)
        {
            return await store.GetSinceAsync(roomId, since.UtcDateTime, limit, cancellationToken);
        }
        long? beforeSeq = null;
        if (request.Before is { } before)
        {
            var anchor = await store.GetAsync(before, cancellationToken);
            if (anchor is null || anchor.RoomId != roomId)
            {
                throw new ChatException(ChatErrors.NotFound, "before is not a message of this room.", StatusCodes.Status404NotFound);
            }
            beforeSeq = anchor.Seq;
        }
        return await store.GetLatestAsync(roomId, beforeSeq, limit, cancellationToken);
    }

    /// <summary>Records that the caller is typing (for <see cref="ChatOptions.TypingTtl"/>) and tells the room.</summary>
    public async Task<TypingUser> SetTypingAsync(ChatCaller caller, Guid roomId, CancellationToken cancellationToken)
    {
        await EnsureMemberAsync(caller, roomId, cancellationToken);
        await EnsureNotEndedAsync(roomId, cancellationToken);
        var state = await typing.SetAsync(roomId, caller, cancellationToken);
        await PublishAsync(ChatChannels.Chat(roomId), JsonSerializer.SerializeToUtf8Bytes(TypingFrame.For(roomId, state), ChatJson.Options), cancellationToken);
        return state;
    }

    public async Task<IReadOnlyList<TypingUser>> GetTypingAsync(ChatCaller caller, Guid roomId, CancellationToken cancellationToken)
    {
        await EnsureMemberAsync(caller, roomId, cancellationToken);
        return await typing.GetAsync(roomId, cancellationToken);
    }

    /// <summary>Moves the caller's read marker to the message and, when it moved forward, tells the room.</summary>
    public async Task<ReadReceipt> MarkReadAsync(ChatCaller caller, Guid roomId, Guid messageId, CancellationToken cancellationToken)
    {
        await EnsureMemberAsync(caller, roomId, cancellationToken);
        var marked = await store.MarkReadAsync(roomId, caller.UserId, messageId, cancellationToken)
            ?? throw new ChatException(ChatErrors.NotFound, "message_id is not a message of this room.", StatusCodes.Status404NotFound);
        if (marked.Advanced)
        {
            await PublishAsync(ChatChannels.Chat(roomId), JsonSerializer.SerializeToUtf8Bytes(
                new ReadReceiptFrame(roomId, messageId, caller.UserId, marked.Receipt.ReadAt), ChatJson.Options), cancellationToken);
        }
        return marked.Receipt;
    }

    public async Task<IReadOnlyList<ReadReceipt>> GetReadReceiptsAsync(ChatCaller caller, Guid roomId, CancellationToken cancellationToken)
    {
        await EnsureMemberAsync(caller, roomId, cancellationToken);
        return await store.GetReadReceiptsAsync(roomId, cancellationToken);
    }

    private async Task EnsureNotEndedAsync(Guid roomId, CancellationToken cancellationToken)
    {
        if (await membership.IsEndedAsync(roomId, cancellationToken))
        {
            throw new ChatException(ChatErrors.RoomEnded, "The session has ended; the room is read-only.", StatusCodes.Status403Forbidden);
        }
    }

    // Redis is the fan-out, not the record: a failed publish loses no message (it is stored, the sender is answered,
    // and other instances fill the gap from Postgres when the next message arrives), so it is logged, not thrown.
    private async Task PublishAsync(string channel, byte[] payload, CancellationToken cancellationToken)
    {
        try
        {
            await redis.GetSubscriber().PublishAsync(RedisChannel.Literal(channel), payload).WaitAsync(cancellationToken);
        }
        catch (Exception exception) when (exception is RedisException or TimeoutException)
        {
            LogPublishFailed(logger, exception, channel);
        }
    }

    /// <summary>
    /// Checks a message's content for its kind and returns the JSON to store. Objects are rebuilt from their known
    /// fields only, so nothing a client adds is stored or relayed.
    /// </summary>
    internal string NormalizeContent(string kind, JsonElement content)
    {
        string json;
        switch (kind)
        {
            case ChatKinds.Text:
                if (content.ValueKind != JsonValueKind.String || string.IsNullOrWhiteSpace(content.GetString()))
                {
                    throw new ChatException(ChatErrors.InvalidMessage, "A text message's content is a non-empty string (markdown).");
                }
                EnsureSize(Encoding.UTF8.GetByteCount(content.GetString()!));
                json = JsonSerializer.Serialize(content.GetString(), ChatJson.Options);
                break;
            case ChatKinds.CodeSnippet:
                {
                    if (content.ValueKind != JsonValueKind.Object)
                    {
                        throw new ChatException(ChatErrors.InvalidMessage, "A code_snippet's content is {file, language, start_line, end_line, code}.");
                    }
                    var file = RequiredString(content, "file");
                    var language = OptionalString(content, "language") ?? "";
                    var start = RequiredLine(content, "start_line");
                    var end = RequiredLine(content, "end_line");
                    if (end < start)
                    {
                        throw new ChatException(ChatErrors.InvalidMessage, "end_line must not be before start_line.");
                    }
                    var code = OptionalString(content, "code") ?? throw new ChatException(ChatErrors.InvalidMessage, "code is required.");
                    json = JsonSerializer.Serialize(new { file, language, start_line = start, end_line = end, code }, ChatJson.Options);
                    EnsureSize(Encoding.UTF8.GetByteCount(json));
                    break;
                }
            case ChatKinds.File:
                {
                    if (content.ValueKind != JsonValueKind.Object || !content.TryGetProperty("file_id", out var idElement)
                        || idElement.ValueKind != JsonValueKind.String || !Guid.TryParse(idElement.GetString(), out var fileId))
                    {
                        throw new ChatException(ChatErrors.InvalidMessage, "A file message's content is {file_id, name, size?, content_type?}.");
                    }
                    var name = RequiredString(content, "name");
                    long? size = content.TryGetProperty("size", out var s) && s.ValueKind == JsonValueKind.Number && s.TryGetInt64(out var n) && n >= 0 ? n : null;
                    var contentType = OptionalString(content, "content_type");
                    json = JsonSerializer.Serialize(new { file_id = fileId, name, size, content_type = contentType }, ChatJson.Options);
                    EnsureSize(Encoding.UTF8.GetByteCount(json));
                    break;
                }
            default:
                throw new ChatException(ChatErrors.InvalidMessage, $"Clients cannot send '{kind}' messages.");
        }
        return json;
    }

    private void EnsureSize(int bytes)
    {
        if (bytes > Limits.MaxContentBytes)
        {
            throw new ChatException(ChatErrors.MessageTooLarge,
                $"The content is {bytes} bytes; at most {Limits.MaxContentBytes} bytes (UTF-8) are allowed.", StatusCodes.Status413PayloadTooLarge);
        }
    }

    private static string RequiredString(JsonElement content, string name) =>
        OptionalString(content, name) is { Length: > 0 } value ? value : throw new ChatException(ChatErrors.InvalidMessage, $"{name} is required.");

    private static string? OptionalString(JsonElement content, string name) =>
        content.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    private static int RequiredLine(JsonElement content, string name) =>
        content.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Number && value.TryGetInt32(out var line) && line >= 1
            ? line
            : throw new ChatException(ChatErrors.InvalidMessage, $"{name} is a line number (1 or more).");

    internal static string Truncate(string text) => text.Length <= 40 ? text : text[..40] + "…";

    [LoggerMessage(Level = LogLevel.Debug, Message = "Stored message {MessageId} in room {RoomId} as seq {Seq} ({Kind})")]
    private static partial void LogStored(ILogger logger, Guid messageId, Guid roomId, long seq, string kind);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Publishing on {Channel} failed; the stored message reaches other instances when the next one arrives")]
    private static partial void LogPublishFailed(ILogger logger, Exception exception, string channel);
}
