using System.ClientModel;
using System.ClientModel.Primitives;
using System.Collections.Concurrent;
using System.Text.Json;
using Anthropic;
using Anthropic.Exceptions;
using Anthropic.Models.Models;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Options;
using Microsoft.SemanticKernel;
using Microsoft.SemanticKernel.ChatCompletion;
using Microsoft.SemanticKernel.Connectors.OpenAI;
using OpenAI;
using OpenAI.Models;

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
