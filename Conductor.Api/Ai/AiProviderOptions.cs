namespace Conductor.Api.Ai;

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
