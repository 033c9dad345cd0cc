namespace Conductor.Api.Audit;

public sealed record AuditEntry(Guid Id, Guid RoomId, Guid UserId, string Action, string Source, Guid? ChangeSetId, Guid? ChangeId,
    string FilePath, string? Detail, DateTimeOffset CreatedAt);
