using System.ComponentModel.DataAnnotations;

namespace Conductor.Api.Commands;

/// <summary>Command limits and the default allowlist, bound from <c>Commands</c> and validated at start-up.</summary>
public sealed class CommandOptions : IValidatableObject
{
    public const string SectionName = "Commands";

    /// <summary>
    /// The allowlist of a room whose host has not set one. Null (unset) means <see cref="BuiltInAllowlist"/>; a
    /// configured list replaces it rather than adding to it.
    /// </summary>
    public List<AllowedCommandOption>? DefaultAllowlist { get; set; }

    /// <summary>Wall time when the request names none, and the most a request may ask for.</summary>
    [Range(1, 86_400)]
    public int DefaultTimeoutSeconds { get; set; } = 600;

    [Range(1, 86_400)]
    public int MaxTimeoutSeconds { get; set; } = 3600;

    /// <summary>Output (stdout and stderr together) a run may produce; past it the run is stopped as <c>output_limit</c>.</summary>
    [Range(1024, 1024L * 1024 * 1024)]
    public long MaxOutputBytes { get; set; } = 4 * 1024 * 1024;

    /// <summary>The end of the output kept with the run's record.</summary>
    [Range(256, 1024 * 1024)]
    public int TailBytes { get; set; } = 64 * 1024;

    /// <summary>Runs at once in a room unless its host allows more (up to <see cref="MaxConcurrentLimit"/>).</summary>
    [Range(1, 64)]
    public int DefaultMaxConcurrent { get; set; } = 1;

    [Range(1, 64)]
    public int MaxConcurrentLimit { get; set; } = 8;

    /// <summary>Runs a user may start in a burst (per Api instance), and how many more each minute.</summary>
    [Range(1, 10_000)]
    public int RunBurst { get; set; } = 10;

    [Range(1, 10_000)]
    public int RunsPerMinute { get; set; } = 10;

    /// <summary>Output is gathered into room events at most this often (the caller's own stream is not delayed).</summary>
    public TimeSpan OutputEventInterval { get; set; } = TimeSpan.FromMilliseconds(200);

    /// <summary>Allowlist entries a room may have.</summary>
    [Range(1, 1000)]
    public int MaxAllowlistEntries { get; set; } = 100;

    public static IReadOnlyList<AllowedCommand> BuiltInAllowlist { get; } =
    [
        new("dotnet test", ["--filter", "--no-build", "--no-restore", "-c", "--configuration", "-v", "--verbosity", "-f", "--framework"]),
        new("dotnet build", ["--no-restore", "-c", "--configuration", "-v", "--verbosity"]),
        new("npm test", []),
        new("npm run build", []),
        new("npm run test", []),
        new("pytest", ["-k", "-x", "-q", "-v", "-m", "--maxfail"]),
        new("go test", ["-run", "-v", "-count", "-short", "-race"]),
        new("cargo test", ["--release", "--lib"]),
        new("make test", []),
    ];

    public IReadOnlyList<AllowedCommand> Defaults =>
        DefaultAllowlist is { Count: > 0 } configured ? [.. configured.Select(e => new AllowedCommand(e.Command, e.Options ?? []))] : BuiltInAllowlist;

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (DefaultTimeoutSeconds > MaxTimeoutSeconds)
        {
            yield return new ValidationResult("Commands:DefaultTimeoutSeconds must not exceed Commands:MaxTimeoutSeconds.");
        }
        if (DefaultMaxConcurrent > MaxConcurrentLimit)
        {
            yield return new ValidationResult("Commands:DefaultMaxConcurrent must not exceed Commands:MaxConcurrentLimit.");
        }
        if (TailBytes > MaxOutputBytes)
        {
            yield return new ValidationResult("Commands:TailBytes must not exceed Commands:MaxOutputBytes.");
        }
        foreach (var entry in Defaults)
        {
            if (CommandPolicy.ValidateEntry(entry) is { } error)
            {
                yield return new ValidationResult($"Commands:DefaultAllowlist: {error}");
            }
        }
    }
}
