namespace Conductor.Api.Changes;

public class PatternRule : WeightRule
{
    /// <summary>Globs over the '/'-separated path: <c>*</c> within a segment, <c>**</c> across; no '/' matches the name anywhere.</summary>
    public string[]? Patterns { get; set; }
}
