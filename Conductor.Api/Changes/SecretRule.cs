namespace Conductor.Api.Changes;

public sealed class SecretRule : PatternRule
{
    /// <summary>Regular expressions that make content look like it holds a secret.</summary>
    public string[]? ContentPatterns { get; set; }
}
