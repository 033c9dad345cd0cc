using System.Globalization;
using System.Runtime.CompilerServices;
using Conductor.Redis.Connections;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Conductor.Redis;

/// <summary>
/// The Redis client: one shared, pipelined connection for ordinary commands and a small pool of dedicated connections
/// for blocking ones (so a BLOCK never stalls the shared connection). Thread-safe; create one per process.
/// </summary>
public sealed class RedisClient : IRedisClient, IAsyncDisposable, IDisposable
{
    private static readonly HashSet<string> CommandsNeedingTheirOwnConnection = new(StringComparer.OrdinalIgnoreCase)
    {
        "SUBSCRIBE", "PSUBSCRIBE", "SSUBSCRIBE", "UNSUBSCRIBE", "PUNSUBSCRIBE", "SUNSUBSCRIBE", "MONITOR", "QUIT", "RESET", "HELLO",
    };

    private readonly RedisConnection _shared;
    private readonly BlockingConnectionPool _blocking;

    private RedisClient(RedisConnectionOptions options, ILoggerFactory loggerFactory)
    {
        Options = options;
        _shared = new RedisConnection(options, ConnectionRole.Interactive, loggerFactory.CreateLogger<RedisClient>());
        _blocking = new BlockingConnectionPool(options, loggerFactory.CreateLogger<RedisClient>());
    }

    public RedisConnectionOptions Options { get; }

    public bool IsConnected => _shared.IsConnected;

    /// <summary>The RESP version of the shared connection (3 after a successful HELLO 3, else 2; 0 when not connected).</summary>
    public int Protocol => _shared.Protocol;

    /// <summary>
    /// Connects before returning. With abortConnect=true (the default) a failed first attempt throws
    /// <see cref="RedisConnectionException"/>; with abortConnect=false the client keeps trying in the background.
    /// </summary>
    public static async Task<RedisClient> ConnectAsync(RedisConnectionOptions options, ILoggerFactory? loggerFactory = null,
        CancellationToken cancellationToken = default)
    {
        var client = new RedisClient(options, loggerFactory ?? NullLoggerFactory.Instance);
        await client._shared.StartAsync(options.AbortOnConnectFail, cancellationToken).ConfigureAwait(false);
        return client;
    }

    public static Task<RedisClient> ConnectAsync(string connectionString, ILoggerFactory? loggerFactory = null,
        CancellationToken cancellationToken = default) =>
        ConnectAsync(RedisConnectionOptions.Parse(connectionString), loggerFactory, cancellationToken);

    /// <summary>Returns at once and connects in the background; commands wait for the connection (up to their timeout).</summary>
    public static RedisClient Create(RedisConnectionOptions options, ILoggerFactory? loggerFactory = null)
    {
        var client = new RedisClient(options, loggerFactory ?? NullLoggerFactory.Instance);
        client._shared.StartInBackground();
        return client;
    }

    public ValueTask<RedisResult> ExecuteAsync(string command, params RedisValue[] args) => ExecuteAsync(command, args, CancellationToken.None);

    public ValueTask<RedisResult> ExecuteAsync(string command, IReadOnlyList<RedisValue> args, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(command);
        ArgumentNullException.ThrowIfNull(args);
        if (CommandsNeedingTheirOwnConnection.Contains(command))
        {
            throw new ArgumentException($"{command} cannot run on the shared connection: it changes the connection's state for every caller. Use IRedisSubscriber for pub/sub.", nameof(command));
        }
        (command, args) = SplitSubcommand(command, args);
        return _shared.ExecuteAsync(command, args, timeout: null, cancellationToken);
    }

    public ValueTask<RedisResult> ExecuteBlockingAsync(string command, IReadOnlyList<RedisValue> args, TimeSpan blockFor,
        CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(command);
        (command, args) = SplitSubcommand(command, args);
        return _blocking.ExecuteAsync(command, args, blockFor, cancellationToken);
    }

    public async ValueTask<TimeSpan> PingAsync(CancellationToken cancellationToken = default)
    {
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        await ExecuteAsync("PING", [], cancellationToken).ConfigureAwait(false);
        return System.Diagnostics.Stopwatch.GetElapsedTime(started);
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<RedisValue> GetAsync(string key, CancellationToken cancellationToken = default) =>
        (await ExecuteAsync("GET", [key], cancellationToken).ConfigureAwait(false)).AsValue();

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<bool> SetAsync(string key, RedisValue value, TimeSpan? expiry = null, SetCondition condition = SetCondition.Always,
        CancellationToken cancellationToken = default)
    {
        RedisValue[] args = (expiry, condition) switch
        {
            (null, SetCondition.Always) => [key, value],
            (null, _) => [key, value, ConditionWord(condition)],
            ({ } ttl, SetCondition.Always) => [key, value, ExpiryWord(ttl), ExpiryAmount(ttl)],
            ({ } ttl, _) => [key, value, ExpiryWord(ttl), ExpiryAmount(ttl), ConditionWord(condition)],
        };
        // OK when set; a null reply when NX/XX prevented it.
        var reply = await ExecuteAsync("SET", args, cancellationToken).ConfigureAwait(false);
        return !reply.IsNull;

        static string ConditionWord(SetCondition condition) => condition == SetCondition.WhenNotExists ? "NX" : "XX";
    }

    public async ValueTask<long> DeleteAsync(IReadOnlyList<string> keys, CancellationToken cancellationToken = default) =>
        (await ExecuteAsync("DEL", AsValues(keys), cancellationToken).ConfigureAwait(false)).AsInt64();

    public async ValueTask<bool> ExpireAsync(string key, TimeSpan expiry, CancellationToken cancellationToken = default)
    {
        var command = expiry.Ticks % TimeSpan.TicksPerSecond == 0 ? "EXPIRE" : "PEXPIRE";
        return (await ExecuteAsync(command, [key, ExpiryAmount(expiry)], cancellationToken).ConfigureAwait(false)).AsBoolean();
    }

    public async ValueTask<long> IncrementAsync(string key, long by = 1, CancellationToken cancellationToken = default) =>
        (await (by == 1
            ? ExecuteAsync("INCR", [key], cancellationToken)
            : ExecuteAsync("INCRBY", [key, by], cancellationToken)).ConfigureAwait(false)).AsInt64();

    public async ValueTask<long> ExistsAsync(IReadOnlyList<string> keys, CancellationToken cancellationToken = default) =>
        (await ExecuteAsync("EXISTS", AsValues(keys), cancellationToken).ConfigureAwait(false)).AsInt64();

    public async ValueTask<TimeSpan?> TimeToLiveAsync(string key, CancellationToken cancellationToken = default)
    {
        var seconds = (await ExecuteAsync("TTL", [key], cancellationToken).ConfigureAwait(false)).AsInt64();
        return seconds < 0 ? null : TimeSpan.FromSeconds(seconds); // -2: no such key; -1: no expiry
    }

    public async ValueTask<long> HashSetAsync(string key, IReadOnlyList<KeyValuePair<string, RedisValue>> fields,
        CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfZero(fields.Count);
        var args = new RedisValue[1 + 2 * fields.Count];
        args[0] = key;
        for (var i = 0; i < fields.Count; i++)
        {
            args[1 + 2 * i] = fields[i].Key;
            args[2 + 2 * i] = fields[i].Value;
        }
        return (await ExecuteAsync("HSET", args, cancellationToken).ConfigureAwait(false)).AsInt64();
    }

    public async ValueTask<RedisValue> HashGetAsync(string key, string field, CancellationToken cancellationToken = default) =>
        (await ExecuteAsync("HGET", [key, field], cancellationToken).ConfigureAwait(false)).AsValue();

    public async ValueTask<IReadOnlyDictionary<string, RedisValue>> HashGetAllAsync(string key, CancellationToken cancellationToken = default)
    {
        var reply = await ExecuteAsync("HGETALL", [key], cancellationToken).ConfigureAwait(false);
        var fields = new Dictionary<string, RedisValue>(StringComparer.Ordinal);
        foreach (var (field, value) in reply.AsPairs())
        {
            fields[field.AsString()!] = value.AsValue();
        }
        return fields;
    }

    public async ValueTask<long> HashDeleteAsync(string key, IReadOnlyList<string> fields, CancellationToken cancellationToken = default) =>
        (await ExecuteAsync("HDEL", [key, .. AsValues(fields)], cancellationToken).ConfigureAwait(false)).AsInt64();

    public async ValueTask<long> HashIncrementAsync(string key, string field, long by = 1, CancellationToken cancellationToken = default) =>
        (await ExecuteAsync("HINCRBY", [key, field, by], cancellationToken).ConfigureAwait(false)).AsInt64();

    public ValueTask<RedisResult> EvalAsync(string script, IReadOnlyList<string> keys, IReadOnlyList<RedisValue> args,
        CancellationToken cancellationToken = default) =>
        ExecuteAsync("EVAL", ScriptArgs(script, keys, args), cancellationToken);

    public ValueTask<RedisResult> EvalShaAsync(string sha1, IReadOnlyList<string> keys, IReadOnlyList<RedisValue> args,
        CancellationToken cancellationToken = default) =>
        ExecuteAsync("EVALSHA", ScriptArgs(sha1, keys, args), cancellationToken);

    public async ValueTask<string> ScriptLoadAsync(string script, CancellationToken cancellationToken = default) =>
        (await ExecuteAsync("SCRIPT", ["LOAD", script], cancellationToken).ConfigureAwait(false)).AsString()!;

    public async ValueTask<string> StreamAddAsync(string key, IReadOnlyList<KeyValuePair<string, RedisValue>> fields,
        StreamTrim? trim = null, string id = "*", CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfZero(fields.Count);
        var args = new List<RedisValue>(5 + 2 * fields.Count) { key };
        if (trim is not null)
        {
            args.Add("MAXLEN");
            args.Add(trim.Approximate ? "~" : "=");
            args.Add(trim.MaxLength);
        }
        args.Add(id);
        foreach (var (field, value) in fields)
        {
            args.Add(field);
            args.Add(value);
        }
        return (await ExecuteAsync("XADD", args, cancellationToken).ConfigureAwait(false)).AsString()!;
    }

    public async ValueTask<bool> StreamCreateGroupAsync(string key, string group, string startId = "$", bool createStream = true,
        CancellationToken cancellationToken = default)
    {
        RedisValue[] args = createStream ? ["CREATE", key, group, startId, "MKSTREAM"] : ["CREATE", key, group, startId];
        try
        {
            await ExecuteAsync("XGROUP", args, cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (RedisServerException exception) when (exception.ErrorCode == "BUSYGROUP")
        {
            return false;
        }
    }

    public async ValueTask<IReadOnlyList<StreamEntry>> StreamReadGroupAsync(string key, string group, string consumer, int count,
        TimeSpan? block = null, string id = ">", bool noAck = false, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(count);
        var args = new List<RedisValue>(12) { "GROUP", group, consumer, "COUNT", count };
        if (block is { } blockFor)
        {
            args.Add("BLOCK");
            args.Add((long)blockFor.TotalMilliseconds);
        }
        if (noAck)
        {
            args.Add("NOACK");
        }
        args.Add("STREAMS");
        args.Add(key);
        args.Add(id);
        var reply = block is { } wait
            ? await _blocking.ExecuteAsync("XREADGROUP", args, wait, cancellationToken).ConfigureAwait(false)
            : await ExecuteAsync("XREADGROUP", args, cancellationToken).ConfigureAwait(false);
        return StreamReplies.ParseReadReply(reply);
    }

    public async ValueTask<long> StreamAcknowledgeAsync(string key, string group, IReadOnlyList<string> ids,
        CancellationToken cancellationToken = default) =>
        (await ExecuteAsync("XACK", [key, group, .. AsValues(ids)], cancellationToken).ConfigureAwait(false)).AsInt64();

    public async ValueTask<StreamPendingSummary> StreamPendingAsync(string key, string group, CancellationToken cancellationToken = default) =>
        StreamReplies.ParsePendingSummary(await ExecuteAsync("XPENDING", [key, group], cancellationToken).ConfigureAwait(false));

    public async ValueTask<IReadOnlyList<StreamPendingEntry>> StreamPendingEntriesAsync(string key, string group, int count,
        string start = "-", string end = "+", string? consumer = null, TimeSpan? minIdle = null, CancellationToken cancellationToken = default)
    {
        var args = new List<RedisValue>(8) { key, group };
        if (minIdle is { } idle)
        {
            args.Add("IDLE");
            args.Add((long)idle.TotalMilliseconds);
        }
        args.Add(start);
        args.Add(end);
        args.Add(count);
        if (consumer is not null)
        {
            args.Add(consumer);
        }
        return StreamReplies.ParsePendingEntries(await ExecuteAsync("XPENDING", args, cancellationToken).ConfigureAwait(false));
    }

    public async ValueTask<StreamAutoClaimResult> StreamAutoClaimAsync(string key, string group, string consumer, TimeSpan minIdle,
        string start = "0-0", int? count = null, CancellationToken cancellationToken = default)
    {
        var args = new List<RedisValue>(7) { key, group, consumer, (long)minIdle.TotalMilliseconds, start };
        if (count is { } limit)
        {
            args.Add("COUNT");
            args.Add(limit);
        }
        return StreamReplies.ParseAutoClaim(await ExecuteAsync("XAUTOCLAIM", args, cancellationToken).ConfigureAwait(false));
    }

    public async ValueTask<long> StreamDeleteAsync(string key, IReadOnlyList<string> ids, CancellationToken cancellationToken = default) =>
        (await ExecuteAsync("XDEL", [key, .. AsValues(ids)], cancellationToken).ConfigureAwait(false)).AsInt64();

    public async ValueTask<long> StreamLengthAsync(string key, CancellationToken cancellationToken = default) =>
        (await ExecuteAsync("XLEN", [key], cancellationToken).ConfigureAwait(false)).AsInt64();

    public async ValueTask<IReadOnlyList<StreamEntry>> StreamRangeAsync(string key, string start = "-", string end = "+", int? count = null,
        CancellationToken cancellationToken = default)
    {
        RedisValue[] args = count is { } limit ? [key, start, end, "COUNT", limit] : [key, start, end];
        return StreamReplies.ParseEntries(await ExecuteAsync("XRANGE", args, cancellationToken).ConfigureAwait(false));
    }

    public async ValueTask<long> PublishAsync(string channel, RedisValue message, CancellationToken cancellationToken = default) =>
        (await ExecuteAsync("PUBLISH", [channel, message], cancellationToken).ConfigureAwait(false)).AsInt64();

    /// <summary>For containers disposed synchronously; prefer <see cref="DisposeAsync"/>.</summary>
    public void Dispose() => DisposeAsync().AsTask().GetAwaiter().GetResult();

    public async ValueTask DisposeAsync()
    {
        await _blocking.DisposeAsync().ConfigureAwait(false);
        await _shared.DisposeAsync().ConfigureAwait(false);
    }

    public override string ToString() => $"RedisClient({Options})";

    private static RedisValue[] AsValues(IReadOnlyList<string> items)
    {
        ArgumentOutOfRangeException.ThrowIfZero(items.Count);
        var values = new RedisValue[items.Count];
        for (var i = 0; i < values.Length; i++)
        {
            values[i] = items[i];
        }
        return values;
    }

    private static RedisValue[] ScriptArgs(string scriptOrSha, IReadOnlyList<string> keys, IReadOnlyList<RedisValue> args)
    {
        var values = new RedisValue[2 + keys.Count + args.Count];
        values[0] = scriptOrSha;
        values[1] = keys.Count;
        for (var i = 0; i < keys.Count; i++)
        {
            values[2 + i] = keys[i];
        }
        for (var i = 0; i < args.Count; i++)
        {
            values[2 + keys.Count + i] = args[i];
        }
        return values;
    }

    // Whole seconds go as EX (what most people read in MONITOR); anything finer as PX.
    private static string ExpiryWord(TimeSpan ttl) => ttl.Ticks % TimeSpan.TicksPerSecond == 0 ? "EX" : "PX";

    private static long ExpiryAmount(TimeSpan ttl)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(ttl, TimeSpan.Zero);
        return ttl.Ticks % TimeSpan.TicksPerSecond == 0 ? (long)ttl.TotalSeconds : Math.Max(1, (long)Math.Ceiling(ttl.TotalMilliseconds));
    }

    /// <summary>"SCRIPT LOAD" style names become the command plus its subcommand as the first argument.</summary>
    private static (string Command, IReadOnlyList<RedisValue> Args) SplitSubcommand(string command, IReadOnlyList<RedisValue> args)
    {
        var space = command.IndexOf(' ', StringComparison.Ordinal);
        if (space < 0)
        {
            return (command, args);
        }
        var words = command.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        var combined = new RedisValue[words.Length - 1 + args.Count];
        for (var i = 1; i < words.Length; i++)
        {
            combined[i - 1] = words[i];
        }
        for (var i = 0; i < args.Count; i++)
        {
            combined[words.Length - 1 + i] = args[i];
        }
        return (words[0], combined);
    }
}

/// <summary>Reads stream replies in both their RESP2 (arrays) and RESP3 (maps) shapes.</summary>
internal static class StreamReplies
{
    public static IReadOnlyList<StreamEntry> ParseReadReply(RedisResult reply)
    {
        if (reply.IsNull)
        {
            return []; // BLOCK expired with nothing new
        }
        if (reply.Type == RedisResultType.Map)
        {
            return reply.AsPairs() is [var first, ..] ? ParseEntries(first.Value) : [];
        }
        return reply.Elements is [var stream, ..] && stream.Elements.Count == 2 ? ParseEntries(stream.Elements[1]) : [];
    }

    public static IReadOnlyList<StreamEntry> ParseEntries(RedisResult reply)
    {
        if (reply.IsNull)
        {
            return [];
        }
        var entries = new List<StreamEntry>(reply.Elements.Count);
        foreach (var entry in reply.Elements)
        {
            if (entry.IsNull || entry.Elements.Count < 2)
            {
                continue;
            }
            var fields = entry.Elements[1];
            var pairs = fields.IsNull
                ? []
                : fields.AsPairs().Select(pair => KeyValuePair.Create(pair.Key.AsString()!, pair.Value.AsValue())).ToArray();
            entries.Add(new StreamEntry(entry.Elements[0].AsString()!, pairs));
        }
        return entries;
    }

    public static StreamPendingSummary ParsePendingSummary(RedisResult reply)
    {
        var parts = reply.Elements;
        var consumers = parts.Count > 3 && !parts[3].IsNull
            ? parts[3].Elements.Select(consumer => new StreamConsumerPending(consumer.Elements[0].AsString()!, consumer.Elements[1].AsInt64())).ToArray()
            : [];
        return new StreamPendingSummary(parts[0].AsInt64(), parts[1].AsString(), parts[2].AsString(), consumers);
    }

    public static IReadOnlyList<StreamPendingEntry> ParsePendingEntries(RedisResult reply) =>
        reply.Elements.Select(entry => new StreamPendingEntry(
            entry.Elements[0].AsString()!,
            entry.Elements[1].AsString()!,
            TimeSpan.FromMilliseconds(entry.Elements[2].AsInt64()),
            entry.Elements[3].AsInt64())).ToArray();

    public static StreamAutoClaimResult ParseAutoClaim(RedisResult reply)
    {
        var parts = reply.Elements;
        var deleted = parts.Count > 2 ? parts[2].Elements.Select(id => id.AsString()!).ToArray() : [];
        return new StreamAutoClaimResult(parts[0].AsString()!, ParseEntries(parts[1]), deleted);
    }
}

/// <summary>
/// Dedicated connections for blocking commands, one command at a time each. A connection whose blocking command was
/// cancelled, timed out or lost is closed rather than reused: the server may still be blocked on it.
/// </summary>
internal sealed class BlockingConnectionPool(RedisConnectionOptions options, ILogger logger) : IAsyncDisposable
{
    private const int MaxIdleConnections = 4;
    private readonly System.Collections.Concurrent.ConcurrentBag<RedisConnection> _idle = [];
    private int _disposed;

    public async ValueTask<RedisResult> ExecuteAsync(string command, IReadOnlyList<RedisValue> args, TimeSpan blockFor,
        CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        if (!_idle.TryTake(out var connection))
        {
            connection = new RedisConnection(options, ConnectionRole.Blocking, logger);
            connection.StartInBackground();
        }
        var reusable = false;
        try
        {
            // BLOCK 0 waits forever; a year stands in for "no timeout" without overflowing the deadline arithmetic.
            var timeout = options.SyncTimeout + (blockFor <= TimeSpan.Zero ? TimeSpan.FromDays(365) : blockFor);
            var reply = await connection.ExecuteAsync(command, args, timeout, cancellationToken).ConfigureAwait(false);
            reusable = true;
            return reply;
        }
        catch (RedisServerException)
        {
            reusable = true; // an error reply leaves the connection in step
            throw;
        }
        finally
        {
            if (reusable && Volatile.Read(ref _disposed) == 0 && _idle.Count < MaxIdleConnections)
            {
                _idle.Add(connection);
            }
            else
            {
                await connection.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }
        while (_idle.TryTake(out var connection))
        {
            await connection.DisposeAsync().ConfigureAwait(false);
        }
    }
}
