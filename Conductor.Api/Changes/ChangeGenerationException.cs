namespace Conductor.Api.Changes;

/// <summary>The provider failed twice, or twice answered with output that is not a valid change list.</summary>
public sealed class ChangeGenerationException(string provider, IReadOnlyList<string> errors)
    : Exception($"The provider '{provider}' did not produce valid changes: {string.Join("; ", errors)}")
{
    public string Provider { get; } = provider;
    public IReadOnlyList<string> Errors { get; } = errors;
}
