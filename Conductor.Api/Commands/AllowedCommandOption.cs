namespace Conductor.Api.Commands;

/// <summary>A configured allowlist entry (configuration binds classes, not positional records).</summary>
public sealed class AllowedCommandOption
{
    public string Command { get; set; } = "";
    public List<string>? Options { get; set; }
}
