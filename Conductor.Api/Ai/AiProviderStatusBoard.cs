using System.Collections.Concurrent;

namespace Conductor.Api.Ai;

/// <summary>The latest probe result per provider, written by <see cref="AiProbeService"/>, read by the endpoints.</summary>
public sealed class AiProviderStatusBoard
{
    private readonly ConcurrentDictionary<string, AiProbeResult> _results = new(StringComparer.OrdinalIgnoreCase);

    public AiProbeResult Get(AiProvider provider) =>
        _results.TryGetValue(provider.Name, out var result) ? result
        : new AiProbeResult(false, null, "not probed yet", null);

    internal void Set(string name, AiProbeResult result) => _results[name] = result;
}
