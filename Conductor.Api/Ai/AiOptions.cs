namespace Conductor.Api.Ai;

/// <summary>
/// <c>Ai:</c> configuration. Providers are named under <c>Ai:Providers:&lt;name&gt;</c>; keys arrive from configuration
/// (user secrets, environment, or the AppHost's secret parameters) and are only ever handed to the provider SDKs.
/// </summary>
public sealed class AiOptions
{
    public const string Section = "Ai";

    /// <summary>The name under which the built-in offline provider is always present.</summary>
    public const string MockProviderName = "mock";

    public Dictionary<string, AiProviderOptions> Providers { get; set; } = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>The provider everyone uses until they select another; unset: the first provider with a key, else mock.</summary>
    public string? DefaultProvider { get; set; }

    /// <summary>How often the background probe measures each provider.</summary>
    public TimeSpan ProbeInterval { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How long a probe may take before the provider counts as unavailable.</summary>
    public TimeSpan ProbeTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Upper bound on one provider call (a whole streamed answer).</summary>
    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>Largest prompt (and system prompt) /ai/infer accepts, in characters.</summary>
    public int MaxPromptChars { get; set; } = 32_000;

    /// <summary>max_tokens asked of the provider.</summary>
    public int MaxOutputTokens { get; set; } = 4096;
}
