using StackExchange.Redis;

namespace Conductor.Api.Terminals;

/// <summary>Renews the Redis leases (<see cref="TerminalLocator"/>) of the terminals open on this instance.</summary>
public sealed partial class TerminalLeaseKeeper(TerminalRegistry registry, TerminalLocator locator, TimeProvider time, ILogger<TerminalLeaseKeeper> logger)
    : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(TerminalLocator.LeaseTime / 3, time);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            try
            {
                await locator.RenewAsync(registry.OpenTerminals(), stoppingToken);
            }
            catch (RedisException exception)
            {
                LogRenewFailed(logger, exception);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not renew the terminals' leases; retrying at the next tick")]
    private static partial void LogRenewFailed(ILogger logger, Exception exception);
}
