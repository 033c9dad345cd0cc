using System.Buffers;
using System.Net.WebSockets;
using System.Security.Claims;
using System.Text.Json;
using System.Text.RegularExpressions;
using Conductor.Api.Auth;
using Conductor.Api.Commands;
using Conductor.Api.Rooms;
using Conductor.Workspaces;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;

namespace Conductor.Api.Terminals;

/// <summary>
/// <c>WS /ws/terminal/{room_id}/{terminal_id}</c> (docs/terminal.md): the host's first connection opens the
/// terminal; every member may watch; the host and the members it grants type and resize; the host closes it. A socket
/// whose session signs out (on any instance) closes with 1008 <c>signed out</c>, here or on the instance relaying it.
/// </summary>
public static partial class TerminalSocketEndpoint
{
    /// <summary>Largest frame read from a client (input is typed or pasted text).</summary>
    public const int MaxFrameBytes = 64 * 1024;

    public static RouteGroupBuilder MapTerminalSocket(this IEndpointRouteBuilder endpoints)
    {
        var group = endpoints.MapGroup("/ws/terminal/{room_id}").WithTags("Terminals").RequireRoomAccess();
        group.MapGet("/{terminal_id}", HandleAsync).WithName("TerminalSocket");
        return group;
    }

    internal static async Task<Results<EmptyHttpResult, ProblemHttpResult>> HandleAsync(RoomScope scope, string terminal_id, int? cols, int? rows,
        HttpContext context, ClaimsPrincipal user, TerminalRegistry registry, TerminalLocator locator, TerminalRelay relay, IRoomMembership membership, WorkspaceRepository workspaces,
        CommandStore commandSettings, SessionConnections sessions, SessionRevocations revocations, IOptions<WorkspaceOptions> workspaceOptions, ILoggerFactory loggerFactory)
    {
        if (!TerminalId().IsMatch(terminal_id))
        {
            return ApiProblems.Create(400, "Malformed terminal id", "terminal_id is 1 to 64 of a-z, 0-9 and '-'.", ApiProblems.MalformedIdCode);
        }
        if (!context.WebSockets.IsWebSocketRequest)
        {
            return ApiProblems.Create(400, "WebSocket required", "Connect to /ws/terminal/{room_id}/{terminal_id} with a WebSocket upgrade request.");
        }
        var (columns, height) = (cols ?? 80, rows ?? 24);
        if (columns is < 2 or > 1000 || height is < 2 or > 1000)
        {
            return ApiProblems.Create(400, "Invalid size", "cols and rows must be between 2 and 1000.");
        }
        var userId = user.GetUserId();
        var cancellationToken = context.RequestAborted;
        var session = registry.Find(scope.RoomId, terminal_id);
        if (session is null && await locator.IsElsewhereAsync(scope.RoomId, terminal_id, cancellationToken))
        {
            return await RelayAsync(context, relay, sessions, scope.RoomId, terminal_id, userId, user.GetLogin());
        }
        if (session is null)
        {
            // Opening one is the host's, in a live room with a ready workspace.
            if (await membership.GetRoleAsync(scope.RoomId, userId, cancellationToken) != RoomRole.Host)
            {
                return ApiProblems.NotFound("Terminal", terminal_id);
            }
            if (await membership.IsEndedAsync(scope.RoomId, cancellationToken))
            {
                return ApiProblems.RoomEnded();
            }
            var worktree = Path.Combine(workspaceOptions.Value.WorktreesPath, scope.RoomId.ToString("D"));
            if (await workspaces.GetAsync(scope.RoomId, cancellationToken) is not { Status: "ready" } || !Directory.Exists(worktree))
            {
                return ApiProblems.Create(409, "No workspace", "A terminal runs in the room's workspace, which is not ready.", CommandErrors.NoWorkspace);
            }
            var settings = await commandSettings.GetSettingsAsync(scope.RoomId, cancellationToken);
            // The lease first: two instances asked at once for the same id never both start a shell.
            if (!await locator.TryClaimAsync(scope.RoomId, terminal_id, cancellationToken))
            {
                return await RelayAsync(context, relay, sessions, scope.RoomId, terminal_id, userId, user.GetLogin());
            }
            session = registry.Open(scope.RoomId, terminal_id, userId, worktree, settings.Network, columns, height);
            if (session is null)
            {
                await locator.ReleaseAsync(scope.RoomId, terminal_id);
                return ApiProblems.Create(409, "Too many terminals", $"A room has at most {TerminalRegistry.MaxPerRoom} terminals open.", "too_many_terminals");
            }
        }

        // Members connected to other instances reach it through the relay.
        await relay.ServeAsync(session);
        var logger = loggerFactory.CreateLogger(typeof(TerminalSocketEndpoint));
        using var socket = await context.WebSockets.AcceptWebSocketAsync(new WebSocketAcceptContext { KeepAliveInterval = TimeSpan.FromSeconds(20) });
        using var signedIn = sessions.Track(user);
        var viewer = new TerminalViewer(socket, userId, user.GetLogin(), signedIn.SessionId);
        session.Join(viewer, scrollback => TerminalFrames.Ready(session, session.CanWrite(userId), scrollback));
        // Signing out drops what is queued for the viewer and ends its pump; the close below then says why.
        using var signedOut = signedIn.SignedOut.Register(() =>
        {
            viewer.Stop();
            session.Leave(viewer);
        });
        using var closing = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var pump = viewer.PumpAsync(closing.Token);
        var receive = ReceiveLoopAsync(socket, session, viewer, membership, revocations, logger, closing.Token);
        try
        {
            var ended = await Task.WhenAny(pump, receive);
            if (ended.Exception is { } failure)
            {
                LogViewerFailed(logger, failure.GetBaseException(), userId, terminal_id);
            }
        }
        finally
        {
            LogViewerLeft(logger, userId, terminal_id, pump.Status.ToString(), receive.Status.ToString());
            // Ends the queue after what is in it (the exit frame), lets the pump send it, then closes politely:
            // cancelling the pending receive would abort the connection and could lose those last frames.
            session.Leave(viewer);
            await WaitQuietlyAsync(pump);
            if (socket.State is WebSocketState.Open or WebSocketState.CloseReceived)
            {
                var (status, reason) = signedIn.IsSignedOut ? (SessionConnections.SignedOutCloseStatus, SessionConnections.SignedOutCloseReason)
                    : (WebSocketCloseStatus.NormalClosure, session.Exited.IsCompleted ? "terminal ended" : "bye");
                try
                {
                    await socket.CloseOutputAsync(status, reason, CancellationToken.None);
                }
                catch (WebSocketException)
                {
                }
            }
            await WaitQuietlyAsync(receive);
            await closing.CancelAsync();
            await WaitQuietlyAsync(Task.WhenAll(pump, receive));
        }
        return TypedResults.Empty;
    }

    /// <summary>
    /// Another Api instance holds the terminal (its PTY is there): this instance relays the socket to it over Redis
    /// (<see cref="TerminalRelay"/>). When the holder does not answer, the client gets a readable
    /// <c>other_instance</c> error frame and a 1013 close (try again later) rather than a hang. The socket is this
    /// instance's, so this instance closes it when the session signs out.
    /// </summary>
    private static async Task<Results<EmptyHttpResult, ProblemHttpResult>> RelayAsync(HttpContext context, TerminalRelay relay, SessionConnections sessions,
        Guid roomId, string terminalId, Guid userId, string login)
    {
        using var socket = await context.WebSockets.AcceptWebSocketAsync(new WebSocketAcceptContext { KeepAliveInterval = TimeSpan.FromSeconds(20) });
        using var signedIn = sessions.Track(context.User);
        bool relayed;
        try
        {
            relayed = await relay.RelayAsync(socket, roomId, terminalId, userId, login, signedIn, context.RequestAborted);
        }
        catch (Exception exception) when (exception is WebSocketException or OperationCanceledException)
        {
            return TypedResults.Empty;
        }
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        try
        {
            if (!relayed)
            {
                var frame = TerminalFrames.Error(OtherInstanceCode, $"Terminal '{terminalId}' runs on another Api instance, which did not answer. " +
                    "Connect again in a moment.");
                await socket.SendAsync(System.Text.Encoding.UTF8.GetBytes(frame), WebSocketMessageType.Text, endOfMessage: true, timeout.Token);
                await socket.CloseOutputAsync(TryAgainLater, "terminal on another instance", timeout.Token);
            }
        }
        catch (Exception exception) when (exception is WebSocketException or OperationCanceledException)
        {
        }
        return TypedResults.Empty;
    }

    /// <summary>The error frame's code when the terminal is held by another Api instance.</summary>
    public const string OtherInstanceCode = "other_instance";

    /// <summary>RFC 6455's 1013 "Try Again Later" (not in <see cref="WebSocketCloseStatus"/>).</summary>
    private const WebSocketCloseStatus TryAgainLater = (WebSocketCloseStatus)1013;

    private static async Task WaitQuietlyAsync(Task task)
    {
        try
        {
            await task.WaitAsync(TimeSpan.FromSeconds(5));
        }
        catch (Exception exception) when (exception is OperationCanceledException or WebSocketException or TimeoutException or ObjectDisposedException)
        {
        }
    }

    private static async Task ReceiveLoopAsync(WebSocket socket, TerminalSession session, TerminalViewer viewer, IRoomMembership membership,
        SessionRevocations revocations, ILogger logger, CancellationToken cancellationToken)
    {
        try
        {
            await ReadFramesAsync(socket, frame => HandleFrameAsync(frame, session, viewer, membership, revocations, cancellationToken),
                () => viewer.Enqueue(TooLargeFrame), cancellationToken);
        }
        catch (WebSocketException exception)
        {
            LogSocketFailed(logger, exception, viewer.UserId, session.TerminalId);
        }
    }

    /// <summary>The error frame for a client frame past <see cref="MaxFrameBytes"/>.</summary>
    internal static readonly string TooLargeFrame = TerminalFrames.Error("frame_too_large", $"Frames are at most {MaxFrameBytes} bytes.");

    /// <summary>
    /// Reads the client's frames until it closes: each whole frame to <paramref name="onFrame"/>; a frame past
    /// <see cref="MaxFrameBytes"/> is read to its end into a scratch buffer and refused (<paramref name="onTooLarge"/>), never kept.
    /// </summary>
    internal static async Task ReadFramesAsync(WebSocket socket, Func<ReadOnlyMemory<byte>, Task> onFrame, Action onTooLarge, CancellationToken cancellationToken)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(MaxFrameBytes);
        var scratch = new byte[4096];
        try
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                var length = 0;
                var tooLarge = false;
                ValueWebSocketReceiveResult result;
                do
                {
                    var target = length < MaxFrameBytes ? buffer.AsMemory(length, MaxFrameBytes - length) : scratch;
                    result = await socket.ReceiveAsync(target, cancellationToken);
                    if (length < MaxFrameBytes)
                    {
                        length += result.Count;
                    }
                    else
                    {
                        tooLarge = true;
                    }
                }
                while (!result.EndOfMessage && result.MessageType != WebSocketMessageType.Close);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    return;
                }
                if (tooLarge || length >= MaxFrameBytes)
                {
                    onTooLarge();
                    continue;
                }
                await onFrame(buffer.AsMemory(0, length));
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>
    /// One client frame from <paramref name="viewer"/> (here or relayed from another instance), checked against what the
    /// viewer may do. A signed-out session's frames are dropped: its socket is closing, and what it sends meanwhile
    /// (or what a relaying instance forwards before it hears of the sign-out) never reaches the shell.
    /// </summary>
    internal static async Task HandleFrameAsync(ReadOnlyMemory<byte> frame, TerminalSession session, TerminalViewer viewer, IRoomMembership membership,
        SessionRevocations revocations, CancellationToken cancellationToken)
    {
        if (revocations.IsRevoked(viewer.SessionId))
        {
            return;
        }
        JsonElement root;
        try
        {
            using var document = JsonDocument.Parse(frame);
            root = document.RootElement.Clone();
        }
        catch (JsonException)
        {
            viewer.Enqueue(TerminalFrames.Error("bad_frame", "Frames are JSON objects with a type."));
            return;
        }
        var type = root.ValueKind == JsonValueKind.Object && root.TryGetProperty("type", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString() : null;
        var isHost = viewer.UserId == session.HostId;
        switch (type)
        {
            case "input" when root.TryGetProperty("data", out var data) && data.ValueKind == JsonValueKind.String:
                if (!session.CanWrite(viewer.UserId))
                {
                    viewer.Enqueue(TerminalFrames.Error("read_only", "Only the host and members the host grants can type."));
                    return;
                }
                session.Input(data.GetString()!);
                return;
            case "resize" when root.TryGetProperty("cols", out var c) && c.TryGetInt32(out var columns) && root.TryGetProperty("rows", out var r) && r.TryGetInt32(out var rows):
                if (!session.CanWrite(viewer.UserId))
                {
                    viewer.Enqueue(TerminalFrames.Error("read_only", "Only the host and members the host grants can resize."));
                    return;
                }
                if (columns is < 2 or > 1000 || rows is < 2 or > 1000)
                {
                    viewer.Enqueue(TerminalFrames.Error("bad_size", "cols and rows must be between 2 and 1000."));
                    return;
                }
                session.Resize(columns, rows);
                session.Broadcast(TerminalFrames.Resized(columns, rows));
                return;
            case "grant" or "revoke" when root.TryGetProperty("user_id", out var u) && u.TryGetGuid(out var grantee):
                if (!isHost)
                {
                    viewer.Enqueue(TerminalFrames.Error("host_only", "Only the terminal's host grants and revokes typing."));
                    return;
                }
                if (type == "grant" && await membership.GetRoleAsync(session.RoomId, grantee, cancellationToken) is null)
                {
                    viewer.Enqueue(TerminalFrames.Error("not_in_room", "Only members of the room can be granted typing."));
                    return;
                }
                session.Grant(grantee, type == "grant");
                session.Broadcast(TerminalFrames.Writers(session.Writers()));
                return;
            case "close":
                if (!isHost)
                {
                    viewer.Enqueue(TerminalFrames.Error("host_only", "Only the terminal's host closes it."));
                    return;
                }
                session.Kill();
                return;
            default:
                viewer.Enqueue(TerminalFrames.Error("bad_frame", "Unknown or incomplete frame; types: input, resize, grant, revoke, close."));
                return;
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Terminal socket of user {UserId} on {TerminalId} failed")]
    private static partial void LogViewerFailed(ILogger logger, Exception exception, Guid userId, string terminalId);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Terminal viewer {UserId} left {TerminalId} (sending: {PumpStatus}, receiving: {ReceiveStatus})")]
    private static partial void LogViewerLeft(ILogger logger, Guid userId, string terminalId, string pumpStatus, string receiveStatus);

    [GeneratedRegex("^[a-z0-9-]{1,64}$")]
    private static partial Regex TerminalId();

    [LoggerMessage(Level = LogLevel.Debug, Message = "Terminal socket of user {UserId} on {TerminalId} failed")]
    private static partial void LogSocketFailed(ILogger logger, Exception exception, Guid userId, string terminalId);
}
