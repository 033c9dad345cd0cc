using Conductor.Redis;

namespace Conductor.Hosting.Provisioning;

/// <summary>One-shot health probe: connect, authenticate, PING, disconnect, through our own Redis client.</summary>
public static class RedisProbe
{
    public static async Task<bool> PingAsync(string connectionString, CancellationToken cancellationToken = default)
    {
        try
        {
            var options = RedisConnectionOptions.Parse(connectionString) with
            {
                ConnectTimeout = TimeSpan.FromSeconds(2),
                AbortOnConnectFail = true,
            };
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(TimeSpan.FromSeconds(3));
            await using var client = await RedisClient.ConnectAsync(options, cancellationToken: timeout.Token).ConfigureAwait(false);
            await client.PingAsync(timeout.Token).ConfigureAwait(false);
            return true;
        }
        catch (Exception ex) when (ex is RedisConnectionException or RedisServerException or TimeoutException
            or OperationCanceledException && !cancellationToken.IsCancellationRequested)
        {
            return false;
        }
    }
}
