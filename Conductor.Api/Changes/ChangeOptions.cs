namespace Conductor.Api.Changes;

/// <summary><c>Changes:</c> limits of change generation.</summary>
public sealed class ChangeOptions
{
    public const string Section = "Changes";
    public int MaxInstructionChars { get; set; } = 4000;
    public int MaxContextFiles { get; set; } = 20;
    /// <summary>Total characters of context file content sent to the provider.</summary>
    public int MaxContextChars { get; set; } = 400_000;
}
