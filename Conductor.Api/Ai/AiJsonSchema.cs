using System.Text.Json;

namespace Conductor.Api.Ai;

/// <summary>A JSON schema the answer must follow (structured output).</summary>
public sealed record AiJsonSchema(string Name, string Description, JsonElement Schema);
