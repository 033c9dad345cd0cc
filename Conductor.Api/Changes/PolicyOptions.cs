namespace Conductor.Api.Changes;

/// <summary>
/// <c>Policy:</c> the rules that score a change set's risk (see docs/changes-and-policy.md). Every rule that fires
/// adds its weight once; the sum, capped at 1, is the risk score. Below <see cref="ApplyAllBelow"/> the set may be
/// applied without review, from <see cref="RejectAtOrAbove"/> up it is rejected, in between it needs review.
/// Pattern lists left unset keep the documented defaults; setting one replaces them.
/// </summary>
public sealed class PolicyOptions
{
    public const string Section = "Policy";

    public double ApplyAllBelow { get; set; } = 0.3;
    public double RejectAtOrAbove { get; set; } = 0.7;

    public WeightRule Deletion { get; set; } = new() { Weight = 0.35 };
    public PatternRule Config { get; set; } = new() { Weight = 0.3 };
    public PatternRule Ci { get; set; } = new() { Weight = 0.45 };
    public PatternRule Infrastructure { get; set; } = new() { Weight = 0.45 };
    public PatternRule Lock { get; set; } = new() { Weight = 0.3 };
    public SecretRule Secret { get; set; } = new() { Weight = 0.8 };
    public WeightRule OutsideContext { get; set; } = new() { Weight = 0.2 };
    public SizeRule Size { get; set; } = new() { Weight = 0.2 };
    public PatternRule Binary { get; set; } = new() { Weight = 0.8 };
}
