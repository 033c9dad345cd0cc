using System.Globalization;
using System.Security.Claims;
using Conductor.Api.Rooms;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;

namespace Conductor.Api.Chat;

public static class ChatApi
{
    /// <summary>Maps the HTTP API (<c>/chat/{room_id}/...</c>), the hub (<c>/hubs/chat</c>) and the socket (<c>/ws/{room_id}</c>).</summary>
    public static IEndpointRouteBuilder MapChat(this IEndpointRouteBuilder endpoints)
    {
        var group = endpoints.MapGroup("/chat/{room_id}").WithTags("Chat");
        group.MapGet("/history", GetHistoryAsync).WithName("GetChatHistory").RequireRoomAccess();
        group.MapPost("/messages", PostMessageAsync).WithName("PostChatMessage").RequireRoomAccess(write: true);
        group.MapGet("/read_receipts", GetReadReceiptsAsync).WithName("GetChatReadReceipts").RequireRoomAccess();
        group.MapGet("/typing", GetTypingAsync).WithName("GetChatTyping").RequireRoomAccess();
        group.MapGet("/presence", GetPresenceAsync).WithName("GetChatPresence").RequireRoomAccess();

        endpoints.MapHub<ChatHub>("/hubs/chat").RequireAuthorization();
        endpoints.MapChatSocket();
        return endpoints;
    }

    /// <summary>
    /// <c>?since=&lt;ISO-8601&gt;</c>: messages after it, oldest first; <c>?before=&lt;message id&gt;</c>: the page before it;
    /// neither: the latest. <c>limit</c> defaults to 50 and is capped at 200.
    /// </summary>
    internal static async Task<Results<Ok<IReadOnlyList<ChatMessage>>, ProblemHttpResult>> GetHistoryAsync(
        RoomScope scope, string? since, string? before, string? limit, ClaimsPrincipal user, ChatService chat, HttpContext context,
        CancellationToken cancellationToken)
    {
        var roomId = scope.RoomId;
        DateTimeOffset? sinceValue = null;
        if (since is not null)
        {
            if (!TryParseTimestamp(since, out var parsed))
            {
                return Invalid($"since '{ChatService.Truncate(since)}' is not an ISO-8601 timestamp (URL-encode a '+' offset, or use Z).");
            }
            sinceValue = parsed;
        }
        Guid? beforeValue = null;
        if (before is not null)
        {
            if (!Guid.TryParse(before, out var parsed))
            {
                return Invalid($"before '{ChatService.Truncate(before)}' is not a message id (UUID).");
            }
            beforeValue = parsed;
        }
        int? limitValue = null;
        if (limit is not null)
        {
            if (!int.TryParse(limit, NumberStyles.None, CultureInfo.InvariantCulture, out var parsed))
            {
                return Invalid($"limit '{ChatService.Truncate(limit)}' is not a positive integer.");
            }
            limitValue = parsed;
        }
        return await RunAsync(context, async () => TypedResults.Ok(
            await chat.GetHistoryAsync(ChatCaller.From(user), roomId, new HistoryRequest(sinceValue, beforeValue, limitValue), cancellationToken)));
    }

    internal static async Task<Results<Created<ChatMessage>, Ok<ChatMessage>, ProblemHttpResult>> PostMessageAsync(
        RoomScope scope, [FromBody] SendMessageRequest message, ClaimsPrincipal user, ChatService chat, HttpContext context, CancellationToken cancellationToken)
    {
        var roomId = scope.RoomId;
        try
        {
            var (stored, created) = await chat.SendAsync(ChatCaller.From(user), roomId, message, cancellationToken);
            // 201 the first time, 200 for a resend of the same id: both carry the stored message.
            return created ? TypedResults.Created($"/chat/{roomId:D}/history?before={stored.Id:D}", stored) : TypedResults.Ok(stored);
        }
        catch (ChatException exception)
        {
            return Problem(context, exception);
        }
    }

    internal static async Task<Results<Ok<IReadOnlyList<ReadReceipt>>, ProblemHttpResult>> GetReadReceiptsAsync(
        RoomScope scope, ClaimsPrincipal user, ChatService chat, HttpContext context, CancellationToken cancellationToken) =>
        await RunAsync(context, async () => TypedResults.Ok(await chat.GetReadReceiptsAsync(ChatCaller.From(user), scope.RoomId, cancellationToken)));

    internal static async Task<Results<Ok<IReadOnlyList<TypingUser>>, ProblemHttpResult>> GetTypingAsync(
        RoomScope scope, ClaimsPrincipal user, ChatService chat, HttpContext context, CancellationToken cancellationToken) =>
        await RunAsync(context, async () => TypedResults.Ok(await chat.GetTypingAsync(ChatCaller.From(user), scope.RoomId, cancellationToken)));

    internal static async Task<Results<Ok<IReadOnlyList<OnlineUser>>, ProblemHttpResult>> GetPresenceAsync(
        RoomScope scope, ClaimsPrincipal user, ChatService chat, ChatPresence presence, HttpContext context, CancellationToken cancellationToken) =>
        await RunAsync(context, async () =>
        {
            return TypedResults.Ok(await presence.GetOnlineAsync(scope.RoomId, cancellationToken));
        });

    /// <summary>ISO-8601 with an offset or Z; a timestamp without either is taken as UTC.</summary>
    public static bool TryParseTimestamp(string text, out DateTimeOffset value) =>
        DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out value);

    private static async Task<Results<Ok<T>, ProblemHttpResult>> RunAsync<T>(HttpContext context, Func<Task<Ok<T>>> action)
    {
        try
        {
            return await action();
        }
        catch (ChatException exception)
        {
            return Problem(context, exception);
        }
    }

    private static ProblemHttpResult Problem(HttpContext context, ChatException exception)
    {
        if (exception.Status == StatusCodes.Status429TooManyRequests)
        {
            context.Response.Headers.RetryAfter = "1";
        }
        return ApiProblems.Create(exception.Status, exception.Code, exception.Message, exception.Code);
    }

    private static ProblemHttpResult Invalid(string detail) =>
        ApiProblems.Create(StatusCodes.Status400BadRequest, ChatErrors.InvalidQuery, detail, ChatErrors.InvalidQuery);
}
