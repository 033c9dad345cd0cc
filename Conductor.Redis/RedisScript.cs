using System.Security.Cryptography;
using System.Text;

namespace Conductor.Redis;

/// <summary>
/// A Lua script run by its SHA-1. The first use loads it (SCRIPT LOAD) once; after that only EVALSHA goes over the
/// wire. When the server has forgotten the script (restart, SCRIPT FLUSH, failover), NOSCRIPT falls back to EVAL,
/// which also puts the script back in the server's cache.
/// </summary>
public sealed class RedisScript
{
    private readonly Lock _loadLock = new();
    private Task? _load;

    public RedisScript(string source)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(source);
        Source = source;
        Sha1 = Convert.ToHexStringLower(SHA1.HashData(Encoding.UTF8.GetBytes(source)));
    }

    public string Source { get; }

    /// <summary>The script's SHA-1 as Redis computes it (lower-case hex).</summary>
    public string Sha1 { get; }

    public async ValueTask<RedisResult> EvaluateAsync(IRedisClient client, IReadOnlyList<string> keys, IReadOnlyList<RedisValue> args,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(client);
        try
        {
            await EnsureLoadedAsync(client).WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (RedisException)
        {
            // Loading is an optimisation: EVALSHA below fails with NOSCRIPT and EVAL takes over.
        }
        try
        {
            return await client.EvalShaAsync(Sha1, keys, args, cancellationToken).ConfigureAwait(false);
        }
        catch (RedisServerException exception) when (exception.ErrorCode == "NOSCRIPT")
        {
            return await client.EvalAsync(Source, keys, args, cancellationToken).ConfigureAwait(false);
        }
    }

    private Task EnsureLoadedAsync(IRedisClient client)
    {
        lock (_loadLock)
        {
            // Shared by every caller, so no caller's token may cancel it; a failed load is retried by the next call.
            if (_load is null || _load.IsFaulted || _load.IsCanceled)
            {
                _load = client.ScriptLoadAsync(Source, CancellationToken.None).AsTask();
            }
            return _load;
        }
    }
}
