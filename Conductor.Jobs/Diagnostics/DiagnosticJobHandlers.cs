using System.Text.Json;
using System.Text.Json.Serialization;

namespace Conductor.Jobs.Diagnostics;

/// <summary>
/// <c>diagnostic.sleep</c>: waits <c>milliseconds</c>, reporting progress. Exists so that tests can hold a job in a
/// real worker process (and kill it). Registered only with <c>Jobs:DiagnosticKinds=true</c>.
/// </summary>
internal sealed class SleepJobHandler(TimeProvider time) : IJobHandler
{
    public const string KindName = "diagnostic.sleep";

    public string Kind => KindName;

    public async Task<JsonElement?> HandleAsync(JobContext context, CancellationToken cancellationToken)
    {
        var payload = context.GetPayload<SleepPayload>();
        var total = TimeSpan.FromMilliseconds(Math.Clamp(payload.Milliseconds, 0, 600_000));
        await context.ReportProgressAsync(0, $"sleeping on {context.WorkerId}", cancellationToken).ConfigureAwait(false);
        var steps = 4;
        for (var step = 1; step <= steps; step++)
        {
            await Task.Delay(total / steps, time, cancellationToken).ConfigureAwait(false);
            await context.ReportProgressAsync((double)step / steps, null, cancellationToken).ConfigureAwait(false);
        }
        return JsonSerializer.SerializeToElement(new SleepResult(payload.Milliseconds, context.WorkerId, context.Attempt));
    }

    internal sealed record SleepPayload([property: JsonPropertyName("milliseconds")] int Milliseconds);

    internal sealed record SleepResult(
        [property: JsonPropertyName("slept_ms")] int SleptMilliseconds,
        [property: JsonPropertyName("worker")] string Worker,
        [property: JsonPropertyName("attempt")] int Attempt);
}

/// <summary><c>diagnostic.fail</c>: fails its first <c>failures</c> attempts (every attempt when absent), to test retries.</summary>
internal sealed class FailJobHandler : IJobHandler
{
    public const string KindName = "diagnostic.fail";

    public string Kind => KindName;

    public Task<JsonElement?> HandleAsync(JobContext context, CancellationToken cancellationToken)
    {
        var failures = context.Payload.ValueKind == JsonValueKind.Object && context.Payload.TryGetProperty("failures", out var value)
            ? value.GetInt32()
            : int.MaxValue;
        if (context.Attempt <= failures)
        {
            throw new InvalidOperationException($"diagnostic failure on attempt {context.Attempt}");
        }
        return Task.FromResult<JsonElement?>(JsonSerializer.SerializeToElement(new { attempt = context.Attempt }));
    }
}
