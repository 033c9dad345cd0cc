namespace Conductor.Api.Changes;

public sealed class SizeRule : WeightRule
{
    public int MaxChangedLines { get; set; } = 300;
    public int MaxFiles { get; set; } = 10;
}
