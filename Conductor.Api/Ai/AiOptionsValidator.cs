using System.Text.RegularExpressions;
using Microsoft.Extensions.Options;

namespace Conductor.Api.Ai;

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
