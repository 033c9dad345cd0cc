using Microsoft.Extensions.Options;

namespace Conductor.Api.Ai;

/// <summary>Probes every provider now and then so /ai/status answers from memory, not by calling providers per request.</summary>
internal sealed partial class AiProbeService(AiProviderCatalog catalog, AiProviderStatusBoard board, IOptions<AiOptions> options,
    TimeProvider time, ILogger<AiProbeService> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.ProbeInterval, time);
        do
        {
            await Task.WhenAll(catalog.All.Select(p => ProbeAsync(p, stoppingToken)));
        }
        while (await WaitAsync(timer, stoppingToken));
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

    internal async Task ProbeAsync(AiProvider provider, CancellationToken stoppingToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
        timeout.CancelAfter(options.Value.ProbeTimeout);
        var started = time.GetTimestamp();
        AiProbeResult result;
        try
        {
            await provider.Probe(timeout.Token);
            result = new AiProbeResult(true, (long)time.GetElapsedTime(started).TotalMilliseconds, null, time.GetUtcNow());
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            return;
        }
        catch (Exception ex)
        {
            result = new AiProbeResult(false, null, AiProviderCatalog.Describe(ex), time.GetUtcNow());
        }
        var previous = board.Get(provider);
        board.Set(provider.Name, result);
        if (previous.Available != result.Available || previous.CheckedAt is null)
        {
            LogProbe(provider.Name, provider.Kind, result.Available, result.LatencyMs, result.Error);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "AI provider {Provider} ({Kind}) available: {Available}, latency {LatencyMs} ms, error: {Error}")]
    private partial void LogProbe(string provider, string kind, bool available, long? latencyMs, string? error);
}
