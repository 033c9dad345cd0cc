namespace Conductor.Api.Audit;

/// <summary>A decision a client made on one change (the user is the caller, never a field of the body).</summary>
public sealed record LogApplyRequest(Guid? RoomId, Guid? ChangeId, string? Action, string? FilePath);

public sealed record LogApplyResponse(bool Logged);

public sealed record AuditResponse(Guid RoomId, IReadOnlyList<AuditEntry> Entries);
