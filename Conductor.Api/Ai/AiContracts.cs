namespace Conductor.Api.Ai;

public sealed record AiProviderStatus(string Name, string Kind, string Model, bool Available, long? LatencyMs,
    [property: System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)] string? Error);

public sealed record AiStatusResponse(IReadOnlyList<AiProviderStatus> Providers, string ActiveProvider);

public sealed record AiSelectRequest(string? ProviderName);

public sealed record AiSelectResponse(string ActiveProvider);

public sealed record AiInferRequest(string? Prompt, string? System, string? Provider);
