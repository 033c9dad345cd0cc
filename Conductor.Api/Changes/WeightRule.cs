namespace Conductor.Api.Changes;

public class WeightRule
{
    public double Weight { get; set; }
}
