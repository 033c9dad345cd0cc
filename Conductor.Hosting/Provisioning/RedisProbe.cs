using StackExchange.Redis;

namespace Conductor.Hosting.Provisioning;

/// <summary>One-shot health probe: connect, authenticate, PING, disconnect, through StackExchange.Redis.</summary>
public static class RedisProbe
{
    public static async Task<bool> PingAsync(string connectionString, CancellationToken cancellationToken = default)
    {
        try
        {
            var options = ConfigurationOptions.Parse(connectionString);
            options.AbortOnConnectFail = true;
            options.ConnectTimeout = 2000;
            options.ConnectRetry = 1;
            await using var connection = await ConnectionMultiplexer.ConnectAsync(options).WaitAsync(TimeSpan.FromSeconds(3), cancellationToken).ConfigureAwait(false);
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
