namespace Conductor.Api.Commands;

/// <summary>
/// <c>POST /workspace/{room_id}/commands</c>: either <c>command</c> alone ("npm test", split on whitespace, no quoting)
/// or <c>command</c> (the program) with <c>args</c>. Never run through a shell.
/// </summary>
public sealed record RunCommandRequest(string? Command, IReadOnlyList<string>? Args, int? TimeoutS);

/// <summary>An allowlist entry: an argv prefix, and the options allowed after it (<c>--filter</c>, <c>-k</c>, ...).</summary>
public sealed record AllowedCommand(string Command, IReadOnlyList<string>? Options);

/// <summary>A room's command settings as the host sees and edits them.</summary>
public sealed record CommandSettings(IReadOnlyList<AllowedCommand> Allowlist, bool UsesDefaults, int MaxConcurrent, bool Network);

/// <summary><c>PUT /workspace/{room_id}/commands/settings</c>: any member left out keeps its value; <c>allowlist: null</c> with <c>reset_allowlist</c> returns to the defaults.</summary>
public sealed record UpdateCommandSettingsRequest(IReadOnlyList<AllowedCommand>? Allowlist, bool? ResetAllowlist, int? MaxConcurrent, bool? Network);

/// <summary>One run as stored: who ran what, how it ended, and the last part of its output.</summary>
public sealed record CommandRun(
    Guid Id,
    Guid RoomId,
    Guid UserId,
    string Login,
    IReadOnlyList<string> Argv,
    string Status,
    int? ExitCode,
    int TimeoutS,
    DateTimeOffset StartedAt,
    DateTimeOffset? FinishedAt,
    long? DurationMs,
    long OutputBytes,
    bool OutputTruncated,
    string? OutputTail);
