using Conductor.Workspaces;
using Microsoft.Extensions.Options;

namespace Conductor.GitWorker.Workspaces;

/// <summary>Removes bare stores no room has used for <see cref="WorkspaceOptions.StoreGracePeriod"/>.</summary>
internal sealed partial class StoreSweeper(WorkspaceProvisioner provisioner, IOptions<WorkspaceOptions> options, TimeProvider time,
    ILogger<StoreSweeper> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.StoreSweepInterval, time);
        try
        {
            do
            {
                try
                {
                    await provisioner.SweepStoresAsync(stoppingToken);
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    // Postgres or the disk hiccupped: the next tick tries again, nothing is lost by waiting.
                    LogSweepFailed(logger, ex);
                }
            }
            while (await timer.WaitForNextTickAsync(stoppingToken));
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "The store sweep failed; retrying at the next interval")]
    private static partial void LogSweepFailed(ILogger logger, Exception exception);
}
