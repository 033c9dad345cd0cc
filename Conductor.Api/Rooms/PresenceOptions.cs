namespace Conductor.Api.Rooms;

public sealed class PresenceOptions
{
    public const string SectionName = "Presence";

    /// <summary>How long a connection counts as online after its last heartbeat.</summary>
    public TimeSpan Ttl { get; set; } = TimeSpan.FromSeconds(60);
}
