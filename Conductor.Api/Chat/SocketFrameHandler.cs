using System.Text.Json;
using Npgsql;
using StackExchange.Redis;

namespace Conductor.Api.Chat;

/// <summary>A raw socket's client frames (docs/chat.md): each answered through the <see cref="ChatService"/>, refusals as <c>error</c> frames.</summary>
internal static partial class SocketFrameHandler
{
    /// <summary>Handles one client frame; false when the socket must close (the user is no longer a member).</summary>
    public static async Task<bool> HandleAsync(ReadOnlyMemory<byte> utf8, SocketChatConnection connection, ChatService chat, ILogger logger,
        CancellationToken cancellationToken)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(utf8, new JsonDocumentOptions { MaxDepth = 16 });
        }
        catch (JsonException)
        {
            connection.Enqueue(OutboundFrame.Error(ChatErrors.InvalidJson, "The frame is not valid JSON."));
            return true;
        }
        using (document)
        {
            var frame = document.RootElement;
            if (frame.ValueKind != JsonValueKind.Object || !frame.TryGetProperty("type", out var typeElement) || typeElement.ValueKind != JsonValueKind.String)
            {
                connection.Enqueue(OutboundFrame.Error(ChatErrors.InvalidFrame, "Every frame is a JSON object with a string 'type'."));
                return true;
            }
            Guid? clientId = null;
            try
            {
                if (frame.TryGetProperty("room_id", out var roomElement)
                    && !(roomElement.ValueKind == JsonValueKind.String && Guid.TryParse(roomElement.GetString(), out var frameRoom) && frameRoom == connection.RoomId))
                {
                    throw new ChatException(ChatErrors.NotInRoom, "This socket is for one room; send frames for another room on its own socket.",
                        StatusCodes.Status400BadRequest);
                }
                var caller = connection.Caller;
                switch (typeElement.GetString())
                {
                    case "chat":
                        {
                            clientId = OptionalGuid(frame, "id");
                            var request = new SendMessageRequest(clientId,
                                frame.TryGetProperty("content", out var content) ? content.Clone() : default,
                                OptionalString(frame, "kind"), OptionalGuid(frame, "reply_to"));
                            var (message, created) = await chat.SendAsync(caller, connection.RoomId, request, cancellationToken);
                            if (!created)
                            {
                                // A resend: the first send was already fanned out, so answer this one directly.
                                connection.Enqueue(OutboundFrame.Create(message));
                            }
                            break;
                        }
                    case "typing":
                        await chat.SetTypingAsync(caller, connection.RoomId, cancellationToken);
                        break;
                    case "read_receipt":
                        {
                            var messageId = OptionalGuid(frame, "message_id")
                                ?? throw new ChatException(ChatErrors.InvalidMessage, "read_receipt needs a message_id.");
                            await chat.MarkReadAsync(caller, connection.RoomId, messageId, cancellationToken);
                            break;
                        }
                    case "history_request":
                        {
                            var query = new HistoryRequest(OptionalTimestamp(frame, "since"), OptionalGuid(frame, "before"), OptionalInt(frame, "limit"));
                            var messages = await chat.GetHistoryAsync(caller, connection.RoomId, query, cancellationToken);
                            connection.Enqueue(OutboundFrame.Create(new HistoryFrame(connection.RoomId, messages)));
                            break;
                        }
                    case "ai_stop":
                        {
                            var messageId = OptionalGuid(frame, "message_id")
                                ?? throw new ChatException(ChatErrors.InvalidMessage, "ai_stop needs the message_id of a running AI answer.");
                            await chat.StopAiAnswerAsync(caller, connection.RoomId, messageId, cancellationToken);
                            break;
                        }
                    default:
                        throw new ChatException(ChatErrors.UnknownType,
                            $"Unknown frame type '{ChatService.Truncate(typeElement.GetString()!)}'; expected chat, typing, read_receipt, history_request or ai_stop.");
                }
            }
            catch (ChatException exception)
            {
                connection.Enqueue(OutboundFrame.Error(exception.Code, exception.Message, clientId));
                if (exception.Code == ChatErrors.NotInRoom && exception.Status == StatusCodes.Status403Forbidden)
                {
                    return false; // removed from the room while connected
                }
            }
            catch (Exception exception) when (exception is NpgsqlException or RedisException or TimeoutException)
            {
                LogFrameFailed(logger, exception, connection.Caller.UserId, connection.RoomId);
                connection.Enqueue(OutboundFrame.Error(ChatErrors.Unavailable, "The server could not handle the frame just now; try again.", clientId));
            }
            return true;
        }
    }

    private static string? OptionalString(JsonElement frame, string name) =>
        !frame.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null ? null
        : value.ValueKind == JsonValueKind.String ? value.GetString()
        : throw new ChatException(ChatErrors.InvalidMessage, $"{name} must be a string.");

    private static Guid? OptionalGuid(JsonElement frame, string name) =>
        OptionalString(frame, name) is not { } text ? null
        : Guid.TryParse(text, out var id) ? id
        : throw new ChatException(ChatErrors.InvalidMessage, $"{name} must be a UUID.");

    private static DateTimeOffset? OptionalTimestamp(JsonElement frame, string name) =>
        OptionalString(frame, name) is not { } text ? null
        : ChatApi.TryParseTimestamp(text, out var value) ? value
        : throw new ChatException(ChatErrors.InvalidQuery, $"{name} must be an ISO-8601 timestamp.");

    private static int? OptionalInt(JsonElement frame, string name) =>
        !frame.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null ? null
        : value.ValueKind == JsonValueKind.Number && value.TryGetInt32(out var number) ? number
        : throw new ChatException(ChatErrors.InvalidQuery, $"{name} must be an integer.");

    [LoggerMessage(Level = LogLevel.Error, Message = "Frame from user {UserId} in room {RoomId} failed")]
    private static partial void LogFrameFailed(ILogger logger, Exception exception, Guid userId, Guid roomId);
}
