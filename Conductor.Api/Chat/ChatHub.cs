using Conductor.Api.Auth;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.SignalR;
using Microsoft.Extensions.Options;

namespace Conductor.Api.Chat;

/// <summary>
/// <c>/hubs/chat</c> for the web app and the VS Code extension. Methods: JoinRoom, LeaveRoom, SendMessage, Typing,
/// MarkRead, LoadHistory, StopAi. Events: Message, Typing, ReadReceipt, UserJoined, UserLeft, AiStart, AiToken, AiTool,
/// AiDone (a streamed AI answer), RoomEvent (jobs, membership,
/// anything else published on the room's events channel), each with the same snake_case JSON as the socket frames.
/// A refusal is a HubException whose message starts with the error code ("rate_limited: ...").
/// </summary>
[Authorize]
public sealed class ChatHub(ChatService chat, ChatFanout fanout, ChatPresence presence, HubRooms rooms,
    ChatHubLifetimeManager hubConnections, SessionConnections sessions, IOptions<ChatOptions> options) : Hub
{
    /// <summary>The connection's <see cref="SessionConnection"/>, in <see cref="HubCallerContext.Items"/>.</summary>
    private const string SessionItem = "conductor.session-connection";

    private ChatCaller Caller => ChatCaller.From(Context.User!);

    /// <summary>Signing the session out (on any instance) closes the connection, as the token would no longer open it.</summary>
    public override async Task OnConnectedAsync()
    {
        var context = Context;
        var session = sessions.Track(context.User?.GetSessionId());
        context.Items[SessionItem] = session;
        session.SignedOut.Register(context.Abort);
        await base.OnConnectedAsync();
    }

    /// <summary>Starts receiving the room's events; answers with the latest messages, who is typing and who is online.</summary>
    public async Task<JoinRoomResult> JoinRoom(Guid roomId)
    {
        var caller = Caller;
        var cancellationToken = Context.ConnectionAborted;
        return await GuardAsync(async () =>
        {
            await chat.EnsureMemberAsync(caller, roomId, cancellationToken);
            var connection = new HubChatConnection(hubConnections, Context, roomId, caller, options.Value.OutboundQueueLimit, rooms, fanout);
            if (rooms.TryAdd(Context.ConnectionId, roomId, connection))
            {
                connection.Start();
                await fanout.JoinAsync(connection, cancellationToken);
            }
            var messages = await chat.GetHistoryAsync(caller, roomId, new HistoryRequest(null, null, null), cancellationToken);
            var typing = await chat.GetTypingAsync(caller, roomId, cancellationToken);
            return new JoinRoomResult(roomId, messages, typing, await presence.GetOnlineAsync(roomId, cancellationToken));
        });
    }

    public async Task LeaveRoom(Guid roomId)
    {
        if (rooms.TryRemove(Context.ConnectionId, roomId, out var connection))
        {
            await fanout.LeaveAsync(connection, Context.ConnectionAborted);
        }
    }

    /// <summary>Stores and fans out a message; answers with the stored message (the same one for a resend of the same id).</summary>
    public Task<ChatMessage> SendMessage(Guid roomId, SendMessageRequest message) =>
        GuardAsync(async () => (await chat.SendAsync(Caller, roomId, message, Context.ConnectionAborted)).Message);

    public Task Typing(Guid roomId) => GuardAsync(() => chat.SetTypingAsync(Caller, roomId, Context.ConnectionAborted));

    public Task<ReadReceipt> MarkRead(Guid roomId, Guid messageId) =>
        GuardAsync(() => chat.MarkReadAsync(Caller, roomId, messageId, Context.ConnectionAborted));

    /// <summary>Stops a running AI answer (<c>ai_start</c>'s message_id); every member then gets <c>AiDone</c> with status stopped.</summary>
    public Task StopAi(Guid roomId, Guid messageId) =>
        GuardAsync(() => chat.StopAiAnswerAsync(Caller, roomId, messageId, Context.ConnectionAborted));

    public Task<IReadOnlyList<ChatMessage>> LoadHistory(Guid roomId, HistoryRequest? query) =>
        GuardAsync(() => chat.GetHistoryAsync(Caller, roomId, query ?? new HistoryRequest(null, null, null), Context.ConnectionAborted));

    public override async Task OnDisconnectedAsync(Exception? exception)
    {
        if (Context.Items.TryGetValue(SessionItem, out var watch) && watch is SessionConnection session)
        {
            session.Dispose();
        }
        foreach (var connection in rooms.RemoveAll(Context.ConnectionId))
        {
            await fanout.LeaveAsync(connection, CancellationToken.None);
        }
        await base.OnDisconnectedAsync(exception);
    }

    // HubException is the only exception whose message SignalR passes to the client.
    private static async Task<T> GuardAsync<T>(Func<Task<T>> action)
    {
        try
        {
            return await action();
        }
        catch (ChatException exception)
        {
            throw new HubException($"{exception.Code}: {exception.Message}");
        }
    }

    private static Task GuardAsync(Func<Task> action) => GuardAsync(async () =>
    {
        await action();
        return true;
    });
}
