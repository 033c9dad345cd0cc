namespace Conductor.Api.Commands;

/// <summary>Why a command was refused, in words for the caller, or the argv to run.</summary>
public sealed record CommandDecision(IReadOnlyList<string>? Argv, string? Refusal, bool Malformed = false)
{
    public bool Allowed => Argv is not null;
}
