namespace Conductor.Api.Rooms;

/// <summary>The per-instance room state cache (<see cref="RoomStateCache"/>), bound from <c>Rooms:StateCache</c>.</summary>
public sealed class RoomStateCacheOptions
{
    public const string SectionName = "Rooms:StateCache";

    /// <summary>
    /// The longest a cached room state is used without reading Postgres again: the staleness bound when a room event
    /// is lost while the Redis connection still looks healthy. Normally a change reaches every instance through its
    /// room event at once.
    /// </summary>
    public TimeSpan Lifetime { get; set; } = TimeSpan.FromSeconds(10);
}
