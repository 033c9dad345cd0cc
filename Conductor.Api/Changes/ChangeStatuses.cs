namespace Conductor.Api.Changes;

/// <summary>
/// Where a proposed change stands in review. <c>applied</c> is the change's own status (set under its row lock);
/// <c>skipped</c> and <c>refused</c> are the latest decision about it in the audit trail (a skip is a client's decision,
/// a refusal an apply that found the file moved on); a change with neither is <c>pending</c>. A skipped or refused
/// change can still be applied later, and then it is <c>applied</c>.
/// </summary>
public static class ChangeStatuses
{
    public const string Pending = "pending";
    public const string Applied = "applied";
    public const string Skipped = "skipped";
    public const string Refused = "refused";
}
