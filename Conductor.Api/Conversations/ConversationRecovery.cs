using Microsoft.Extensions.Options;

namespace Conductor.Api.Conversations;

/// <summary>
/// Keeps this instance's claims on its conversations alive, ends local runs of conversations stopped elsewhere, and
/// takes over running conversations whose instance is gone (crashed, or shut down and released them): after an Api
/// restart a conversation resumes at its first unstored turn.
/// </summary>
internal sealed partial class ConversationRecovery(ConversationStore store, ConversationRunner runner, IOptions<ConversationOptions> options,
    TimeProvider time, ILogger<ConversationRecovery> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var limits = options.Value;
        var period = TimeSpan.FromTicks(Math.Min(limits.RecoveryInterval.Ticks, limits.LeaseDuration.Ticks / 3));
        using var timer = new PeriodicTimer(period, time);
        do
        {
            try
            {
                await TickAsync(limits, stoppingToken);
            }
            catch (Exception ex) when (ex is Npgsql.NpgsqlException or TimeoutException)
            {
                LogTickFailed(logger, ex.GetType().Name);
            }
        }
        while (await WaitAsync(timer, stoppingToken));
    }

    private async Task TickAsync(ConversationOptions limits, CancellationToken stoppingToken)
    {
        var running = runner.RunningIds;
        if (running.Count > 0)
        {
            var held = (await store.RenewAsync(runner.RunnerId, running, time.GetUtcNow() + limits.LeaseDuration, stoppingToken)).ToHashSet();
            foreach (var id in running.Where(id => !held.Contains(id)))
            {
                // Stopped (or completed) through another instance, or taken over after a lapse: end the local run.
                runner.End(id);
            }
        }
        var now = time.GetUtcNow();
        foreach (var id in await store.ClaimOrphansAsync(runner.RunnerId, now, now + limits.LeaseDuration, stoppingToken))
        {
            LogTakeOver(logger, id);
            runner.Start(id);
        }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);
        // ApplicationStopping has cancelled every run; each gives up its claim before the process exits.
        await runner.WhenAllStoppedAsync().WaitAsync(cancellationToken);
    }

    private static async Task<bool> WaitAsync(PeriodicTimer timer, CancellationToken stoppingToken)
    {
        try
        {
            return await timer.WaitForNextTickAsync(stoppingToken);
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Taking over conversation {ConversationId}, whose runner is gone")]
    private static partial void LogTakeOver(ILogger logger, Guid conversationId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Conversation recovery could not reach Postgres ({Error}); retrying")]
    private static partial void LogTickFailed(ILogger logger, string error);
}
