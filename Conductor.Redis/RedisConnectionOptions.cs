using System.Globalization;
using System.Net;
using System.Text;

namespace Conductor.Redis;

/// <summary>A host and port to connect to.</summary>
public sealed record RedisEndpoint(string Host, int Port)
{
    public const int DefaultPort = 6379;

    public override string ToString() => Host.Contains(':', StringComparison.Ordinal) ? $"[{Host}]:{Port}" : $"{Host}:{Port}";
}

/// <summary>
/// Connection settings, parsed from a connection string in the StackExchange.Redis/Aspire form
/// <c>host:port,password=...,user=...,defaultDatabase=N,connectTimeout=ms,syncTimeout=ms,abortConnect=false,ssl=false</c>.
/// Unknown keys are ignored so that strings written for StackExchange.Redis keep working. <see cref="ToString"/>
/// masks the password, so the options are safe to log.
/// </summary>
public sealed record RedisConnectionOptions
{
    public IReadOnlyList<RedisEndpoint> Endpoints { get; init; } = [];
    public string? User { get; init; }
    public string? Password { get; init; }
    public int DefaultDatabase { get; init; }
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>How long a command may wait for its reply (and, while reconnecting, for a connection).</summary>
    public TimeSpan SyncTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>When true, a first connection that fails throws; when false, the client keeps trying in the background.</summary>
    public bool AbortOnConnectFail { get; init; } = true;

    public bool Ssl { get; init; }
    public string? SslHost { get; init; }
    public string? ClientName { get; init; }

    /// <summary>First delay before a reconnect attempt; doubled per failed attempt up to <see cref="ReconnectMaxDelay"/>, with jitter.</summary>
    public TimeSpan ReconnectBaseDelay { get; init; } = TimeSpan.FromMilliseconds(100);
    public TimeSpan ReconnectMaxDelay { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Try RESP3 (HELLO 3) first; RESP2 is used when the server does not know HELLO.</summary>
    public bool PreferResp3 { get; init; } = true;

    public static RedisConnectionOptions Parse(string connectionString)
    {
        ArgumentNullException.ThrowIfNull(connectionString);
        var endpoints = new List<RedisEndpoint>();
        var options = new RedisConnectionOptions();
        foreach (var rawPart in connectionString.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var equals = rawPart.IndexOf('=', StringComparison.Ordinal);
            if (equals < 0)
            {
                endpoints.Add(ParseEndpoint(rawPart));
                continue;
            }
            var key = rawPart[..equals].Trim();
            var value = rawPart[(equals + 1)..].Trim();
            options = key.ToLowerInvariant() switch
            {
                "password" => options with { Password = value.Length == 0 ? null : value },
                "user" or "username" => options with { User = value.Length == 0 ? null : value },
                "defaultdatabase" => options with { DefaultDatabase = ParseInt(key, value, minimum: 0) },
                "connecttimeout" => options with { ConnectTimeout = TimeSpan.FromMilliseconds(ParseInt(key, value, minimum: 1)) },
                "synctimeout" => options with { SyncTimeout = TimeSpan.FromMilliseconds(ParseInt(key, value, minimum: 1)) },
                "abortconnect" => options with { AbortOnConnectFail = ParseBool(key, value) },
                "ssl" => options with { Ssl = ParseBool(key, value) },
                "sslhost" => options with { SslHost = value },
                "name" => options with { ClientName = value },
                "resp3" or "protocol" => options with { PreferResp3 = ParseProtocol(key, value) },
                _ => options, // unknown keys are ignored, as StackExchange.Redis does
            };
        }
        if (endpoints.Count == 0)
        {
            throw new FormatException("The Redis connection string names no endpoint (expected 'host:port' as its first part).");
        }
        return options with { Endpoints = endpoints };
    }

    public override string ToString()
    {
        var text = new StringBuilder(string.Join(',', Endpoints));
        if (User is not null)
        {
            text.Append(",user=").Append(User);
        }
        if (Password is not null)
        {
            text.Append(",password=*****");
        }
        text.Append(CultureInfo.InvariantCulture, $",defaultDatabase={DefaultDatabase}");
        text.Append(CultureInfo.InvariantCulture, $",connectTimeout={(long)ConnectTimeout.TotalMilliseconds}");
        text.Append(CultureInfo.InvariantCulture, $",syncTimeout={(long)SyncTimeout.TotalMilliseconds}");
        text.Append(",abortConnect=").Append(AbortOnConnectFail ? "true" : "false");
        text.Append(",ssl=").Append(Ssl ? "true" : "false");
        if (ClientName is not null)
        {
            text.Append(",name=").Append(ClientName);
        }
        return text.ToString();
    }

    private static RedisEndpoint ParseEndpoint(string text)
    {
        string host;
        string? portText = null;
        if (text.StartsWith('['))
        {
            var close = text.IndexOf(']', StringComparison.Ordinal);
            if (close < 0)
            {
                throw new FormatException($"Invalid Redis endpoint '{text}': missing ']'.");
            }
            host = text[1..close];
            if (close + 1 < text.Length)
            {
                portText = text[(close + 1)..].StartsWith(':') ? text[(close + 2)..] : throw new FormatException($"Invalid Redis endpoint '{text}'.");
            }
        }
        else if (text.Count(c => c == ':') > 1 && IPAddress.TryParse(text, out _))
        {
            host = text; // bare IPv6 address without a port
        }
        else
        {
            var colon = text.LastIndexOf(':');
            host = colon < 0 ? text : text[..colon];
            portText = colon < 0 ? null : text[(colon + 1)..];
        }
        if (host.Length == 0)
        {
            throw new FormatException($"Invalid Redis endpoint '{text}': the host is empty.");
        }
        var port = RedisEndpoint.DefaultPort;
        if (portText is not null && (!int.TryParse(portText, NumberStyles.None, CultureInfo.InvariantCulture, out port) || port is < 1 or > 65535))
        {
            throw new FormatException($"Invalid Redis endpoint '{text}': the port must be a number from 1 to 65535.");
        }
        return new RedisEndpoint(host, port);
    }

    private static int ParseInt(string key, string value, int minimum) =>
        int.TryParse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var parsed) && parsed >= minimum
            ? parsed
            : throw new FormatException($"Invalid value '{value}' for '{key}' in the Redis connection string: expected an integer of at least {minimum}.");

    private static bool ParseBool(string key, string value) =>
        bool.TryParse(value, out var parsed)
            ? parsed
            : throw new FormatException($"Invalid value '{value}' for '{key}' in the Redis connection string: expected true or false.");

    private static bool ParseProtocol(string key, string value) => value.ToLowerInvariant() switch
    {
        "resp3" or "3" or "true" => true,
        "resp2" or "2" or "false" => false,
        _ => throw new FormatException($"Invalid value '{value}' for '{key}' in the Redis connection string: expected resp2 or resp3."),
    };
}
