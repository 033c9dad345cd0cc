using System.Buffers;
using System.Net.WebSockets;
using System.Text.Json;
using Conductor.Api.Rooms;
using Microsoft.Extensions.Options;
using Npgsql;
using StackExchange.Redis;

namespace Conductor.Api.Chat;

/// <summary>
/// <c>/ws/{room_id}</c>: the documented JSON protocol over a raw WebSocket (docs/chat.md). One socket is one user in
/// one room. Bad frames are answered with an <c>error</c> frame and the socket stays open; losing (or lacking)
/// membership closes it with 1008.
/// </summary>
public static partial class ChatSocketEndpoint
{
    public const int PolicyViolation = (int)WebSocketCloseStatus.PolicyViolation; // 1008

    public static IEndpointConventionBuilder MapChatSocket(this IEndpointRouteBuilder endpoints) =>
        endpoints.Map("/ws/{room_id}", HandleAsync).RequireAuthorization().WithTags("Chat").ExcludeFromDescription();

    private static async Task<IResult> HandleAsync(HttpContext context, string room_id, ChatService chat, ChatFanout fanout,
        IRoomMembership membership, IOptions<ChatOptions> options, ILoggerFactory loggerFactory)
    {
        if (!context.WebSockets.IsWebSocketRequest)
        {
            return ApiProblems.Create(StatusCodes.Status400BadRequest, "WebSocket required", "Connect to /ws/{room_id} with a WebSocket upgrade request.");
        }
        if (!Guid.TryParse(room_id, out var roomId))
        {
            return ApiProblems.MalformedId(RoomScope.Parameter, room_id);
        }
        var limits = options.Value;
        var caller = ChatCaller.From(context.User);
        var aborted = context.RequestAborted;
        using var socket = await context.WebSockets.AcceptWebSocketAsync(new WebSocketAcceptContext { KeepAliveInterval = limits.KeepAliveInterval });
        var logger = loggerFactory.CreateLogger(typeof(ChatSocketEndpoint));

        // Checked after the upgrade so the client sees close code 1008 (a browser cannot read an HTTP 403 on a socket).
        // The same decision as every room route's RequireRoomAccess(): reading a room needs membership only.
        if (await membership.DecideAsync(roomId, caller.UserId, RoomRole.Guest, write: false, aborted) is not null)
        {
            await socket.CloseAsync(WebSocketCloseStatus.PolicyViolation, "not a member of this room", aborted);
            return Results.Empty;
        }

        using var closing = CancellationTokenSource.CreateLinkedTokenSource(aborted);
        var connection = new SocketChatConnection(socket, roomId, caller, limits.OutboundQueueLimit, closing);
        var pump = connection.PumpAsync(closing.Token);
        LogConnected(logger, caller.UserId, roomId);
        try
        {
            await fanout.JoinAsync(connection, closing.Token);
            await SendWelcomeAsync(connection, chat, caller, roomId, context.RequestServices.GetRequiredService<ChatPresence>(), closing.Token);
            await ReceiveLoopAsync(socket, connection, chat, limits, logger, closing.Token);
        }
        catch (OperationCanceledException) when (closing.IsCancellationRequested)
        {
        }
        catch (WebSocketException exception)
        {
            LogSocketFailed(logger, exception, caller.UserId, roomId);
        }
        finally
        {
            await fanout.LeaveAsync(connection, CancellationToken.None);
            try
            {
                await pump.WaitAsync(TimeSpan.FromSeconds(5), CancellationToken.None);
            }
            catch (Exception exception) when (exception is OperationCanceledException or WebSocketException or TimeoutException or ObjectDisposedException)
            {
            }
            await connection.CloseAsync(WebSocketCloseStatus.NormalClosure, "bye");
            LogDisconnected(logger, caller.UserId, roomId);
        }
        return Results.Empty;
    }

    /// <summary>Who is online and who is typing, so a client that joins mid-conversation sees the room as it is.</summary>
    private static async Task SendWelcomeAsync(SocketChatConnection connection, ChatService chat, ChatCaller caller, Guid roomId,
        ChatPresence presence, CancellationToken cancellationToken)
    {
        var online = await presence.GetOnlineAsync(roomId, cancellationToken);
        connection.Enqueue(OutboundFrame.Create("presence", new { type = "presence", room_id = roomId, users = online }));
        foreach (var typer in await chat.GetTypingAsync(caller, roomId, cancellationToken))
        {
            connection.Enqueue(OutboundFrame.Create("typing", new
            {
                type = "typing",
                room_id = roomId,
                user_id = typer.UserId,
                login = typer.Login,
                expires_at = typer.ExpiresAt,
            }));
        }
    }

    private static async Task ReceiveLoopAsync(WebSocket socket, SocketChatConnection connection, ChatService chat, ChatOptions limits,
        ILogger logger, CancellationToken cancellationToken)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(limits.MaxFrameBytes);
        try
        {
            while (true)
            {
                var (kind, length, tooLarge) = await ReadMessageAsync(socket, buffer, limits.MaxFrameBytes, cancellationToken);
                if (kind == WebSocketMessageType.Close)
                {
                    return;
                }
                if (tooLarge)
                {
                    connection.Enqueue(OutboundFrame.Error(ChatErrors.MessageTooLarge,
                        $"Frames are at most {limits.MaxFrameBytes} bytes and message content at most {limits.MaxContentBytes} bytes."));
                    continue;
                }
                if (kind != WebSocketMessageType.Text)
                {
                    connection.Enqueue(OutboundFrame.Error(ChatErrors.InvalidFrame, "Frames are JSON text, not binary."));
                    continue;
                }
                if (!await HandleFrameAsync(buffer.AsMemory(0, length), connection, chat, logger, cancellationToken))
                {
                    // Read on until the client answers the close (or is cut off), so it sees the 1008.
                    await connection.CloseAsync(ChatCloseReason.Removed);
                }
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>Reads one whole message; past <paramref name="max"/> bytes the rest is read and thrown away.</summary>
    private static async Task<(WebSocketMessageType Kind, int Length, bool TooLarge)> ReadMessageAsync(WebSocket socket, byte[] buffer, int max,
        CancellationToken cancellationToken)
    {
        var length = 0;
        var tooLarge = false;
        byte[]? discard = null;
        while (true)
        {
            var target = tooLarge ? (discard ??= new byte[8192]).AsMemory() : buffer.AsMemory(length, max - length);
            if (target.Length == 0)
            {
                tooLarge = true;
                continue;
            }
            var result = await socket.ReceiveAsync(target, cancellationToken);
            if (result.MessageType == WebSocketMessageType.Close)
            {
                return (WebSocketMessageType.Close, 0, false);
            }
            if (!tooLarge)
            {
                length += result.Count;
            }
            if (result.EndOfMessage)
            {
                return (result.MessageType, length, tooLarge);
            }
        }
    }

    /// <summary>Handles one client frame; false when the socket must close (the user is no longer a member).</summary>
    private static async Task<bool> HandleFrameAsync(ReadOnlyMemory<byte> utf8, SocketChatConnection connection, ChatService chat, ILogger logger,
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
                                connection.Enqueue(OutboundFrame.Create("chat", message));
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
                            connection.Enqueue(OutboundFrame.Create("history", new { type = "history", room_id = connection.RoomId, messages }));
                            break;
                        }
                    default:
                        throw new ChatException(ChatErrors.UnknownType,
                            $"Unknown frame type '{ChatService.Truncate(typeElement.GetString()!)}'; expected chat, typing, read_receipt or history_request.");
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

    /// <summary>A raw socket in one room. Sends (frames and the close) are serialised: a WebSocket allows one sender at a time.</summary>
    private sealed class SocketChatConnection(WebSocket socket, Guid roomId, ChatCaller caller, int queueLimit, CancellationTokenSource closing)
        : ChatConnection(roomId, caller, $"ws:{Guid.NewGuid():N}", queueLimit)
    {
        private readonly SemaphoreSlim _sendLock = new(1, 1);

        protected override async Task SendAsync(OutboundFrame frame, CancellationToken cancellationToken)
        {
            await _sendLock.WaitAsync(cancellationToken);
            try
            {
                if (socket.State == WebSocketState.Open)
                {
                    await socket.SendAsync(frame.Utf8, WebSocketMessageType.Text, true, cancellationToken);
                }
            }
            finally
            {
                _sendLock.Release();
            }
        }

        public override Task CloseAsync(ChatCloseReason reason) => reason switch
        {
            ChatCloseReason.Removed => CloseAsync(WebSocketCloseStatus.PolicyViolation, "removed from the room"),
            _ => CloseAsync(WebSocketCloseStatus.PolicyViolation, "too slow: frames were not read"),
        };

        public async Task CloseAsync(WebSocketCloseStatus status, string description)
        {
            CompleteOutbound();
            try
            {
                await _sendLock.WaitAsync(TimeSpan.FromSeconds(5));
                try
                {
                    if (socket.State is WebSocketState.Open or WebSocketState.CloseReceived)
                    {
                        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
                        await socket.CloseOutputAsync(status, description, timeout.Token);
                    }
                }
                finally
                {
                    _sendLock.Release();
                }
            }
            catch (Exception exception) when (exception is WebSocketException or OperationCanceledException or ObjectDisposedException)
            {
            }
            if (status != WebSocketCloseStatus.NormalClosure)
            {
                // The client answers our close frame and the receive loop ends by itself; cancelling the read now
                // would abort the socket before the 1008 reaches the client. A client that never answers is cut off.
                try
                {
                    closing.CancelAfter(TimeSpan.FromSeconds(5));
                }
                catch (ObjectDisposedException)
                {
                }
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "User {UserId} connected to room {RoomId} over a WebSocket")]
    private static partial void LogConnected(ILogger logger, Guid userId, Guid roomId);

    [LoggerMessage(Level = LogLevel.Debug, Message = "User {UserId} disconnected from room {RoomId}")]
    private static partial void LogDisconnected(ILogger logger, Guid userId, Guid roomId);

    [LoggerMessage(Level = LogLevel.Information, Message = "WebSocket of user {UserId} in room {RoomId} failed")]
    private static partial void LogSocketFailed(ILogger logger, Exception exception, Guid userId, Guid roomId);

    [LoggerMessage(Level = LogLevel.Error, Message = "Frame from user {UserId} in room {RoomId} failed")]
    private static partial void LogFrameFailed(ILogger logger, Exception exception, Guid userId, Guid roomId);
}
