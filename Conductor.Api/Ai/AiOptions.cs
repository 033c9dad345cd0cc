using System.Text.RegularExpressions;
using Microsoft.Extensions.Options;

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

public sealed class AiProviderOptions
{
    /// <summary><c>openai</c> (any OpenAI-compatible server), <c>anthropic</c> or <c>mock</c>.</summary>
    public string Kind { get; set; } = "";

    /// <summary>Base URL: for openai kind including <c>/v1</c> (e.g. http://localhost:11434/v1 for Ollama).</summary>
    public Uri? Endpoint { get; set; }

    /// <summary>Secret. Never logged, never returned.</summary>
    public string? ApiKey { get; set; }

    public string? Model { get; set; }

    // Options objects end up in debugger views and exception messages; keep the key out of them.
    public override string ToString() => $"{Kind} {Model} at {Endpoint} (key {(string.IsNullOrEmpty(ApiKey) ? "unset" : "set")})";
}

public static class AiProviderKinds
{
    public const string OpenAI = "openai";
    public const string Anthropic = "anthropic";
    public const string Mock = "mock";

    public static bool IsKnown(string kind) => kind is OpenAI or Anthropic or Mock;
}

internal sealed partial class AiOptionsValidator : IValidateOptions<AiOptions>
{
    public ValidateOptionsResult Validate(string? name, AiOptions options)
    {
        var failures = new List<string>();
        foreach (var (providerName, provider) in options.Providers)
        {
            if (!ProviderName().IsMatch(providerName))
            {
                failures.Add($"Ai:Providers:{providerName}: a provider name is 1-40 characters of a-z, 0-9, '-' and '_'.");
            }
            var kind = provider.Kind?.Trim().ToLowerInvariant() ?? "";
            if (!AiProviderKinds.IsKnown(kind))
            {
                failures.Add($"Ai:Providers:{providerName}:Kind must be openai, anthropic or mock (was '{provider.Kind}').");
                continue;
            }
            if (kind != AiProviderKinds.Mock && string.IsNullOrWhiteSpace(provider.Model))
            {
                failures.Add($"Ai:Providers:{providerName}:Model is required for kind {kind}.");
            }
            if (provider.Endpoint is { } endpoint && (!endpoint.IsAbsoluteUri || endpoint.Scheme is not ("http" or "https")))
            {
                failures.Add($"Ai:Providers:{providerName}:Endpoint must be an absolute http(s) URL.");
            }
            if (provider.Endpoint is { UserInfo.Length: > 0 } or { Query.Length: > 0 })
            {
                // A key in a URL would end up in logs and traces.
                failures.Add($"Ai:Providers:{providerName}:Endpoint must not carry credentials or a query; use ApiKey.");
            }
        }
        if (options.DefaultProvider is { } defaultProvider
            && !options.Providers.ContainsKey(defaultProvider)
            && !string.Equals(defaultProvider, AiOptions.MockProviderName, StringComparison.OrdinalIgnoreCase))
        {
            failures.Add($"Ai:DefaultProvider '{defaultProvider}' is not one of Ai:Providers.");
        }
        if (options.ProbeInterval < TimeSpan.FromMilliseconds(100))
        {
            failures.Add("Ai:ProbeInterval must be at least 100 ms.");
        }
        if (options.ProbeTimeout <= TimeSpan.Zero || options.RequestTimeout <= TimeSpan.Zero)
        {
            failures.Add("Ai:ProbeTimeout and Ai:RequestTimeout must be positive.");
        }
        if (options.MaxPromptChars is < 1 or > 1_000_000)
        {
            failures.Add("Ai:MaxPromptChars must be between 1 and 1000000.");
        }
        if (options.MaxOutputTokens is < 1 or > 200_000)
        {
            failures.Add("Ai:MaxOutputTokens must be between 1 and 200000.");
        }
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    [GeneratedRegex("^[a-z0-9_-]{1,40}$", RegexOptions.CultureInvariant)]
    private static partial Regex ProviderName();
}
