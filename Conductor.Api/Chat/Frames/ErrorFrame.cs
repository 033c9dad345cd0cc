using System.Text.Json.Serialization;

namespace Conductor.Api.Chat;

/// <summary><c>error</c>: a refusal; <see cref="Id"/> echoes the chat frame's id when there was one.</summary>
public sealed record ErrorFrame(string Code, string Message, [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] Guid? Id) : IChatFrame
{
    [JsonPropertyOrder(-1)]
    public string Type => "error";
}
