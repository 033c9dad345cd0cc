namespace Conductor.Redis;

/// <summary>Base of every failure the Redis client reports (except timeouts, which are <see cref="TimeoutException"/>s).</summary>
public class RedisException : Exception
{
    public RedisException(string message) : base(message) { }
    public RedisException(string message, Exception? innerException) : base(message, innerException) { }
}

/// <summary>
/// The connection could not be made, was lost while the command was in flight, or failed its handshake (AUTH, SELECT).
/// A command that fails this way may or may not have run on the server.
/// </summary>
public class RedisConnectionException : RedisException
{
    public RedisConnectionException(string message) : base(message) { }
    public RedisConnectionException(string message, Exception? innerException) : base(message, innerException) { }
}

/// <summary>The server answered with an error reply (for example WRONGTYPE, NOSCRIPT, BUSYGROUP).</summary>
public class RedisServerException : RedisException
{
    public RedisServerException(string errorMessage, string? command = null)
        : base(command is null ? errorMessage : $"{errorMessage} (command {command})")
    {
        ErrorMessage = errorMessage;
        Command = command;
        var space = errorMessage.IndexOf(' ', StringComparison.Ordinal);
        ErrorCode = space > 0 ? errorMessage[..space] : errorMessage;
    }

    /// <summary>The error text exactly as the server sent it.</summary>
    public string ErrorMessage { get; }

    /// <summary>The leading upper-case word of the error (ERR, WRONGTYPE, NOSCRIPT, BUSYGROUP, WRONGPASS, ...).</summary>
    public string ErrorCode { get; }

    /// <summary>The command name (never its arguments, which may hold secrets).</summary>
    public string? Command { get; }
}

/// <summary>The bytes from the server are not valid RESP. The connection that received them is closed.</summary>
public class RedisProtocolException : RedisException
{
    public RedisProtocolException(string message) : base(message) { }
}

/// <summary>A command got no reply within its timeout. Its reply, if it comes, is read and discarded.</summary>
public class RedisTimeoutException : TimeoutException
{
    public RedisTimeoutException(string message) : base(message) { }
}

/// <summary>The server refused the credentials (or wants some). The message never holds the password.</summary>
public class RedisAuthenticationException : RedisConnectionException
{
    public RedisAuthenticationException(string message, Exception? innerException) : base(message, innerException) { }

    internal static RedisAuthenticationException From(RedisServerException error, string? user, RedisEndpoint endpoint) =>
        new(error.ErrorCode == "NOAUTH"
                ? $"Redis at {endpoint} requires authentication: set password= (and user= for an ACL user) in the connection string. Server said: {error.ErrorMessage}"
                : $"Redis authentication failed at {endpoint} for user '{user ?? "default"}': {error.ErrorMessage}",
            error);
}
