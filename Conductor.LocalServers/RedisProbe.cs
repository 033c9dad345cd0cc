using StackExchange.Redis;

namespace Conductor.LocalServers;

/// <summary>One-shot readiness probe: connect, authenticate, PING, disconnect (StackExchange.Redis).</summary>
public static class RedisProbe
{
    public static async Task<bool> PingAsync(string connectionString, CancellationToken cancellationToken = default)
    {
        var options = ConfigurationOptions.Parse(connectionString);
        options.AbortOnConnectFail = true;
        options.ConnectTimeout = 2000;
        options.ConnectRetry = 0;
        try
        {
            await using var connection = await ConnectionMultiplexer.ConnectAsync(options).WaitAsync(cancellationToken).ConfigureAwait(false);
            await connection.GetDatabase().PingAsync().WaitAsync(TimeSpan.FromSeconds(3), cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException
            or OperationCanceledException && !cancellationToken.IsCancellationRequested)
        {
            return false;
        }
    }
}
