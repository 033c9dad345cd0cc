namespace Conductor.Redis;

/// <summary>
/// The Redis operations Conductor uses, narrow enough that another client library could stand behind it.
/// Anything not covered goes through <see cref="ExecuteAsync(string, IReadOnlyList{RedisValue}, CancellationToken)"/>.
/// Server error replies throw <see cref="RedisServerException"/>; lost connections <see cref="RedisConnectionException"/>;
/// commands without a reply in time <see cref="RedisTimeoutException"/>.
/// </summary>
public interface IRedisClient
{
    /// <summary>Runs any non-blocking, non-pub/sub command on the shared, pipelined connection.</summary>
    ValueTask<RedisResult> ExecuteAsync(string command, IReadOnlyList<RedisValue> args, CancellationToken cancellationToken = default);

    /// <summary>Runs a command on the shared, pipelined connection (no cancellation token).</summary>
    ValueTask<RedisResult> ExecuteAsync(string command, params RedisValue[] args);

    /// <summary>Runs a blocking command (BLPOP, XREAD ... BLOCK) on a dedicated connection; waits up to <paramref name="blockFor"/> beyond the usual timeout.</summary>
    ValueTask<RedisResult> ExecuteBlockingAsync(string command, IReadOnlyList<RedisValue> args, TimeSpan blockFor, CancellationToken cancellationToken = default);

    /// <summary>Round-trip time of a PING.</summary>
    ValueTask<TimeSpan> PingAsync(CancellationToken cancellationToken = default);

    // Keys and strings
    ValueTask<RedisValue> GetAsync(string key, CancellationToken cancellationToken = default);
    ValueTask<bool> SetAsync(string key, RedisValue value, TimeSpan? expiry = null, SetCondition condition = SetCondition.Always, CancellationToken cancellationToken = default);
    ValueTask<long> DeleteAsync(IReadOnlyList<string> keys, CancellationToken cancellationToken = default);
    ValueTask<bool> ExpireAsync(string key, TimeSpan expiry, CancellationToken cancellationToken = default);
    ValueTask<long> IncrementAsync(string key, long by = 1, CancellationToken cancellationToken = default);
    ValueTask<long> ExistsAsync(IReadOnlyList<string> keys, CancellationToken cancellationToken = default);

    /// <summary>TTL: the remaining time to live; null when the key is missing or has no expiry.</summary>
    ValueTask<TimeSpan?> TimeToLiveAsync(string key, CancellationToken cancellationToken = default);

    // Hashes
    ValueTask<long> HashSetAsync(string key, IReadOnlyList<KeyValuePair<string, RedisValue>> fields, CancellationToken cancellationToken = default);
    ValueTask<RedisValue> HashGetAsync(string key, string field, CancellationToken cancellationToken = default);
    ValueTask<IReadOnlyDictionary<string, RedisValue>> HashGetAllAsync(string key, CancellationToken cancellationToken = default);
    ValueTask<long> HashDeleteAsync(string key, IReadOnlyList<string> fields, CancellationToken cancellationToken = default);
    ValueTask<long> HashIncrementAsync(string key, string field, long by = 1, CancellationToken cancellationToken = default);

    // Scripts (see also RedisScript, which loads once and falls back from NOSCRIPT to EVAL)
    ValueTask<RedisResult> EvalAsync(string script, IReadOnlyList<string> keys, IReadOnlyList<RedisValue> args, CancellationToken cancellationToken = default);
    ValueTask<RedisResult> EvalShaAsync(string sha1, IReadOnlyList<string> keys, IReadOnlyList<RedisValue> args, CancellationToken cancellationToken = default);
    ValueTask<string> ScriptLoadAsync(string script, CancellationToken cancellationToken = default);

    // Streams
    ValueTask<string> StreamAddAsync(string key, IReadOnlyList<KeyValuePair<string, RedisValue>> fields, StreamTrim? trim = null, string id = "*", CancellationToken cancellationToken = default);

    /// <summary>XGROUP CREATE ... MKSTREAM; false when the group already exists (BUSYGROUP).</summary>
    ValueTask<bool> StreamCreateGroupAsync(string key, string group, string startId = "$", bool createStream = true, CancellationToken cancellationToken = default);

    /// <summary>XREADGROUP; with <paramref name="block"/> it runs on a dedicated connection. Empty when nothing arrived.</summary>
    ValueTask<IReadOnlyList<StreamEntry>> StreamReadGroupAsync(string key, string group, string consumer, int count, TimeSpan? block = null, string id = ">", bool noAck = false, CancellationToken cancellationToken = default);
    ValueTask<long> StreamAcknowledgeAsync(string key, string group, IReadOnlyList<string> ids, CancellationToken cancellationToken = default);
    ValueTask<StreamPendingSummary> StreamPendingAsync(string key, string group, CancellationToken cancellationToken = default);
    ValueTask<IReadOnlyList<StreamPendingEntry>> StreamPendingEntriesAsync(string key, string group, int count, string start = "-", string end = "+", string? consumer = null, TimeSpan? minIdle = null, CancellationToken cancellationToken = default);
    ValueTask<StreamAutoClaimResult> StreamAutoClaimAsync(string key, string group, string consumer, TimeSpan minIdle, string start = "0-0", int? count = null, CancellationToken cancellationToken = default);
    ValueTask<long> StreamDeleteAsync(string key, IReadOnlyList<string> ids, CancellationToken cancellationToken = default);
    ValueTask<long> StreamLengthAsync(string key, CancellationToken cancellationToken = default);
    ValueTask<IReadOnlyList<StreamEntry>> StreamRangeAsync(string key, string start = "-", string end = "+", int? count = null, CancellationToken cancellationToken = default);

    // Pub/sub (subscribing is IRedisSubscriber's job)
    /// <summary>PUBLISH; returns the number of subscribers that received the message.</summary>
    ValueTask<long> PublishAsync(string channel, RedisValue message, CancellationToken cancellationToken = default);
}

/// <summary>Subscriptions on a dedicated connection that resubscribes everything after a reconnect.</summary>
public interface IRedisSubscriber
{
    /// <summary>SUBSCRIBE; the handler gets each message, one at a time, in order. Dispose the result to unsubscribe.</summary>
    ValueTask<IRedisSubscription> SubscribeAsync(string channel, Func<RedisChannelMessage, CancellationToken, Task> handler, CancellationToken cancellationToken = default);

    /// <summary>PSUBSCRIBE with a glob-style pattern.</summary>
    ValueTask<IRedisSubscription> SubscribePatternAsync(string pattern, Func<RedisChannelMessage, CancellationToken, Task> handler, CancellationToken cancellationToken = default);
}

/// <summary>An active subscription; disposing it unsubscribes (UNSUBSCRIBE/PUNSUBSCRIBE when it was the last one).</summary>
public interface IRedisSubscription : IAsyncDisposable
{
    /// <summary>The channel name, or the pattern for a pattern subscription.</summary>
    string Channel { get; }

    bool IsPattern { get; }
}

/// <summary>A message received on a channel; <see cref="Pattern"/> is set when it matched a pattern subscription.</summary>
public sealed record RedisChannelMessage(string Channel, RedisValue Message, string? Pattern = null)
{
    public string? Text => Message.ToString();

    public byte[]? Bytes => Message.ToBytes();
}

public enum SetCondition
{
    Always,

    /// <summary>NX: only when the key does not exist.</summary>
    WhenNotExists,

    /// <summary>XX: only when the key exists.</summary>
    WhenExists,
}

/// <summary>MAXLEN trimming for XADD; approximate (<c>~</c>) lets Redis trim whole nodes, which is much cheaper.</summary>
public sealed record StreamTrim(long MaxLength, bool Approximate = true);

/// <summary>A stream entry; <see cref="Fields"/> is empty for an entry deleted while it was pending.</summary>
public sealed record StreamEntry(string Id, IReadOnlyList<KeyValuePair<string, RedisValue>> Fields)
{
    /// <summary>The value of the first field of that name, or null.</summary>
    public RedisValue this[string field]
    {
        get
        {
            foreach (var pair in Fields)
            {
                if (pair.Key == field)
                {
                    return pair.Value;
                }
            }
            return RedisValue.Null;
        }
    }
}

public sealed record StreamPendingSummary(long Count, string? LowestId, string? HighestId, IReadOnlyList<StreamConsumerPending> Consumers);

public sealed record StreamConsumerPending(string Consumer, long Count);

public sealed record StreamPendingEntry(string Id, string Consumer, TimeSpan Idle, long DeliveryCount);

/// <summary>XAUTOCLAIM's answer: where to continue, what was claimed, and ids that were pending but no longer exist.</summary>
public sealed record StreamAutoClaimResult(string NextStartId, IReadOnlyList<StreamEntry> Claimed, IReadOnlyList<string> DeletedIds);
