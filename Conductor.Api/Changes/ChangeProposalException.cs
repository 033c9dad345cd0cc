namespace Conductor.Api.Changes;

/// <summary>Proposed changes that cannot be stored as they are (bad paths, creates of existing files, ...).</summary>
public sealed class ChangeProposalException(IReadOnlyList<string> errors) : Exception(string.Join("; ", errors))
{
    public IReadOnlyList<string> Errors { get; } = errors;
}
