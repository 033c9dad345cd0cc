using Microsoft.Extensions.Logging;

namespace Conductor.Redis.Connections;

/// <summary>Log events of the Redis client. Endpoints and user names appear; passwords never do.</summary>
internal static partial class RedisLog
{
    [LoggerMessage(1, LogLevel.Information, "Redis {Role} connection to {Endpoint} established (RESP{Protocol}, database {Database})")]
    public static partial void Connected(ILogger logger, ConnectionRole role, RedisEndpoint endpoint, int protocol, int database);

    [LoggerMessage(2, LogLevel.Warning, "Redis {Role} connection to {Endpoint} lost; {InFlight} commands in flight fail")]
    public static partial void ConnectionLost(ILogger logger, Exception? exception, ConnectionRole role, RedisEndpoint endpoint, int inFlight);

    [LoggerMessage(3, LogLevel.Warning, "Redis {Role} connection attempt {Attempt} to {Endpoint} failed; next attempt in {DelayMilliseconds} ms")]
    public static partial void ConnectAttemptFailed(ILogger logger, Exception exception, ConnectionRole role, int attempt, RedisEndpoint endpoint, long delayMilliseconds);

    [LoggerMessage(4, LogLevel.Information, "Redis {Role} connection to {Endpoint} re-established after {Attempts} attempts")]
    public static partial void Reconnected(ILogger logger, ConnectionRole role, RedisEndpoint endpoint, int attempts);

    [LoggerMessage(5, LogLevel.Debug, "Redis {Role} connection closed")]
    public static partial void Closed(ILogger logger, ConnectionRole role);

    [LoggerMessage(6, LogLevel.Debug, "Redis server HELLO rejected ({ErrorCode}); using RESP2")]
    public static partial void FallingBackToResp2(ILogger logger, string errorCode);

    [LoggerMessage(7, LogLevel.Debug, "Ignoring an unexpected Redis push message of kind {Kind}")]
    public static partial void UnexpectedPush(ILogger logger, string? kind);

    [LoggerMessage(8, LogLevel.Error, "A Redis subscription handler for {Channel} failed")]
    public static partial void SubscriptionHandlerFailed(ILogger logger, Exception exception, string channel);

    [LoggerMessage(9, LogLevel.Warning, "Redis subscription to {Channel} is not keeping up; a message was dropped")]
    public static partial void MessageDropped(ILogger logger, string channel);

    [LoggerMessage(10, LogLevel.Information, "Redis subscriber restored {Channels} channel and {Patterns} pattern subscriptions")]
    public static partial void Resubscribed(ILogger logger, int channels, int patterns);
}
