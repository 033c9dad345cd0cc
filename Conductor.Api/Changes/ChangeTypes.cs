namespace Conductor.Api.Changes;

/// <summary>The kinds of change an agent proposes.</summary>
public static class ChangeTypes
{
    public const string Create = "create";
    public const string Modify = "modify";
    public const string Delete = "delete";

    public static bool IsKnown(string? type) => type is Create or Modify or Delete;
}
