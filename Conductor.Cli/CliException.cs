namespace Conductor.Cli;

/// <summary>A failure the CLI reports in one line (or one JSON object) and turns into its exit code.</summary>
public sealed class CliException(int exitCode, string message, string? code = null, object? details = null) : Exception(message)
{
    public int ExitCode { get; } = exitCode;
    public string? Code { get; } = code;
    public object? Details { get; } = details;
}
