namespace Conductor.Api.Audit;

public static class AuditActions
{
    public const string Applied = "applied";
    public const string Skipped = "skipped";
    public const string Refused = "refused";
    // Issue 17: the room's branch moved (or did not) through a member's sync, a publish or a push to the git remote.
    public const string Synced = "synced";
    public const string SyncConflicts = "sync_conflicts";
    public const string Published = "published";
    public const string Pushed = "pushed";
    public const string PushRefused = "push_refused";
    public const string CommandRun = "command_run";
    public const string CommandRefused = "command_refused";
    public const string CommandCancelled = "command_cancelled";
}
