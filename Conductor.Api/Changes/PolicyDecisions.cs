namespace Conductor.Api.Changes;

public static class PolicyDecisions
{
    public const string ApplyAll = "apply_all";
    public const string ReviewRequired = "review_required";
    public const string RejectAll = "reject_all";
}
