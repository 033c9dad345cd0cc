using System.Buffers;
using System.Net.WebSockets;
using Conductor.Api.Auth;
using Conductor.Api.Rooms;
using Microsoft.Extensions.Options;

namespace Conductor.Api.Chat;

/// <summary>
/// <c>/ws/{room_id}</c>: the documented JSON protocol over a raw WebSocket (docs/chat.md). One socket is one user in
/// one room. Bad frames are answered with an <c>error</c> frame and the socket stays open; losing (or lacking)
/// membership, or the session being signed out, closes it with 1008.
/// </summary>
public static partial class ChatSocketEndpoint
{
    public const int PolicyViolation = (int)WebSocketCloseStatus.PolicyViolation; // 1008

    public static IEndpointConventionBuilder MapChatSocket(this IEndpointRouteBuilder endpoints) =>
        endpoints.Map("/ws/{room_id}", HandleAsync).RequireAuthorization().WithTags("Chat").ExcludeFromDescription();

    private static async Task<IResult> HandleAsync(HttpContext context, string room_id, ChatService chat, ChatFanout fanout,
        IRoomMembership membership, SessionConnections sessions, IOptions<ChatOptions> options, ILoggerFactory loggerFactory)
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
        // Signing the session out (on any instance) ends the socket too: 1008, as for a removed member.
        using var session = sessions.Track(context.User);
        using var signedOut = session.SignedOut.Register(
            () => _ = connection.CloseAsync(SessionConnections.SignedOutCloseStatus, SessionConnections.SignedOutCloseReason));
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
        connection.Enqueue(OutboundFrame.Create(new PresenceFrame(roomId, online)));
        foreach (var typer in await chat.GetTypingAsync(caller, roomId, cancellationToken))
        {
            connection.Enqueue(OutboundFrame.Create(TypingFrame.For(roomId, typer)));
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
                if (!await SocketFrameHandler.HandleAsync(buffer.AsMemory(0, length), connection, chat, logger, cancellationToken))
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

    [LoggerMessage(Level = LogLevel.Debug, Message = "User {UserId} connected to room {RoomId} over a WebSocket")]
    private static partial void LogConnected(ILogger logger, Guid userId, Guid roomId);

    [LoggerMessage(Level = LogLevel.Debug, Message = "User {UserId} disconnected from room {RoomId}")]
    private static partial void LogDisconnected(ILogger logger, Guid userId, Guid roomId);

    [LoggerMessage(Level = LogLevel.Information, Message = "WebSocket of user {UserId} in room {RoomId} failed")]
    private static partial void LogSocketFailed(ILogger logger, Exception exception, Guid userId, Guid roomId);
}
