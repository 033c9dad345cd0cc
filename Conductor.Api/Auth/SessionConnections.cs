using System.Net.WebSockets;
using System.Runtime.CompilerServices;
using System.Security.Claims;

namespace Conductor.Api.Auth;

/// <summary>
/// Every long-lived connection a signed-in session holds on this instance, by session id: chat sockets and hub
/// connections, terminal sockets (a terminal's own and those relayed to another instance), and the streamed responses
/// (room events, command output, conversations, AI answers). Each one is tracked for as long as it lives
/// (<see cref="Track"/>); when <see cref="SessionRevocations"/> learns that a session signed out (here, or through
/// Redis from whichever instance it happened on), every connection of that session is told at once through its
/// <see cref="SessionConnection.SignedOut"/> token and ends itself: a WebSocket closes with
/// <see cref="SignedOutCloseStatus"/> <see cref="SignedOutCloseReason"/>, a hub connection is aborted, a streamed
/// response ends (<see cref="EndOnSignOut{T}"/>). The session's bearer token opens nothing new by then.
/// </summary>
public sealed partial class SessionConnections
{
    /// <summary>How a WebSocket of a signed-out session closes: 1008, as a socket that lost its room membership.</summary>
    public const WebSocketCloseStatus SignedOutCloseStatus = WebSocketCloseStatus.PolicyViolation;

    /// <summary>The close reason (and the error text of streams that carry one) when the session signed out.</summary>
    public const string SignedOutCloseReason = "signed out";

    private readonly SessionRevocations _revocations;
    private readonly ILogger<SessionConnections> _logger;
    private readonly Dictionary<Guid, HashSet<SessionConnection>> _live = [];

    public SessionConnections(SessionRevocations revocations, ILogger<SessionConnections> logger)
    {
        _revocations = revocations;
        _logger = logger;
        revocations.Revoked += SignOut;
    }

    /// <summary>
    /// Tracks one connection of <paramref name="user"/>'s session until the result is disposed; its
    /// <see cref="SessionConnection.SignedOut"/> fires when the session signs out (at once if it already has). A
    /// token without a session id (issued before sessions were named) cannot be signed out this way: its token never fires.
    /// </summary>
    public SessionConnection Track(ClaimsPrincipal user) => Track(user.GetSessionId());

    /// <inheritdoc cref="Track(ClaimsPrincipal)"/>
    public SessionConnection Track(Guid? sessionId)
    {
        var connection = new SessionConnection(this, sessionId);
        if (sessionId is not { } id)
        {
            return connection;
        }
        lock (_live)
        {
            if (!_live.TryGetValue(id, out var connections))
            {
                _live[id] = connections = [];
            }
            connections.Add(connection);
        }
        // Added first, checked second: a revocation applied in between is seen by one or both.
        if (_revocations.IsRevoked(id))
        {
            SignOut(id);
        }
        return connection;
    }

    /// <summary>
    /// A streamed response's items, tracked as one connection of <paramref name="user"/>'s session from its first item
    /// to its end: when the session signs out, <paramref name="items"/> is cancelled and the enumeration simply ends
    /// (the response completes normally) rather than failing. Pass the request's abort token to <paramref name="items"/> and here.
    /// </summary>
    public async IAsyncEnumerable<T> EndOnSignOut<T>(ClaimsPrincipal user, IAsyncEnumerable<T> items,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        using var session = Track(user);
        using var ending = CancellationTokenSource.CreateLinkedTokenSource(session.SignedOut, cancellationToken);
        var enumerator = items.GetAsyncEnumerator(ending.Token);
        try
        {
            while (true)
            {
                try
                {
                    if (!await enumerator.MoveNextAsync())
                    {
                        break;
                    }
                }
                catch (OperationCanceledException) when (session.IsSignedOut)
                {
                    break;
                }
                yield return enumerator.Current;
            }
        }
        finally
        {
            await enumerator.DisposeAsync();
        }
    }

    internal void Untrack(SessionConnection connection)
    {
        if (connection.SessionId is not { } id)
        {
            return;
        }
        lock (_live)
        {
            if (_live.TryGetValue(id, out var connections) && connections.Remove(connection) && connections.Count == 0)
            {
                _live.Remove(id);
            }
        }
    }

    private void SignOut(Guid sessionId)
    {
        SessionConnection[] ending;
        lock (_live)
        {
            if (!_live.Remove(sessionId, out var connections))
            {
                return;
            }
            ending = [.. connections];
        }
        LogEnding(_logger, ending.Length, sessionId);
        foreach (var connection in ending)
        {
            _ = EndAsync(connection, sessionId);
        }
    }

    /// <summary>
    /// Off the caller's thread (the Redis listener's, or the sign-out request's): each connection's callbacks close
    /// sockets and end streams, and one that throws must not keep the others open.
    /// </summary>
    private async Task EndAsync(SessionConnection connection, Guid sessionId)
    {
        try
        {
            await connection.SignOutAsync();
        }
        catch (Exception exception)
        {
            LogEndFailed(_logger, exception, sessionId);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Session {SessionId} signed out: ending its {Count} live connection(s) here")]
    private static partial void LogEnding(ILogger logger, int count, Guid sessionId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Ending a connection of signed-out session {SessionId} failed")]
    private static partial void LogEndFailed(ILogger logger, Exception exception, Guid sessionId);
}
