using System.Collections.Concurrent;
using Microsoft.Extensions.Options;

namespace Conductor.Api.Rooms;

/// <summary>
/// The <see cref="IRoomMembership"/> every feature checks: each room's state (ended, members' roles) read from
/// Postgres in one query and kept on this instance, so a chat message or a room route pays no query for its access
/// check. A change drops the room's entry at once: on the instance that made it (<see cref="RoomEventPublisher"/>
/// calls <see cref="Invalidate"/> before publishing) and on every other one when its room event arrives
/// (<see cref="RoomEventListener"/>). While the Redis subscription is down events can be lost, so the cache is not
/// used until it is back; and no entry is used for longer than <see cref="RoomStateCacheOptions.Lifetime"/>, the
/// bound on staleness if an event is lost anyway. Only memberships are cached: someone not in a cached member list is
/// looked up in Postgres (they may have just joined), so a refusal is never stale.
/// </summary>
public sealed class RoomStateCache(RoomStore rooms, TimeProvider timeProvider, IOptions<RoomStateCacheOptions> options) : IRoomMembership
{
    private readonly ConcurrentDictionary<Guid, Entry> _entries = new();

    // Bumped by every invalidation: a state read from Postgres is kept only if nothing was invalidated while it was
    // being read (it might predate the change).
    private long _generation;
    private volatile bool _trusted = true;

    public async Task<RoomRole?> GetRoleAsync(Guid roomId, Guid userId, CancellationToken cancellationToken)
    {
        var state = await GetStateAsync(roomId, cancellationToken);
        if (state is null)
        {
            return null;
        }
        return state.Members.TryGetValue(userId, out var role) ? role : await rooms.GetRoleAsync(roomId, userId, cancellationToken);
    }

    public async Task<bool> IsEndedAsync(Guid roomId, CancellationToken cancellationToken) =>
        (await GetStateAsync(roomId, cancellationToken))?.Ended ?? false;

    /// <summary>Forgets the room's state: the next check reads Postgres.</summary>
    public void Invalidate(Guid roomId)
    {
        Interlocked.Increment(ref _generation);
        _entries.TryRemove(roomId, out _);
    }

    /// <summary>Room events may be getting lost (the subscription dropped): forget everything and stop caching.</summary>
    public void Suspend()
    {
        _trusted = false;
        Interlocked.Increment(ref _generation);
        _entries.Clear();
    }

    /// <summary>Room events arrive again: start caching afresh (anything cached before may have missed an event).</summary>
    public void Resume()
    {
        Interlocked.Increment(ref _generation);
        _entries.Clear();
        _trusted = true;
    }

    /// <summary>Drops entries past their lifetime, so rooms no longer used do not stay in memory.</summary>
    public void Sweep()
    {
        foreach (var (roomId, entry) in _entries)
        {
            if (!IsFresh(entry))
            {
                _entries.TryRemove(new KeyValuePair<Guid, Entry>(roomId, entry));
            }
        }
    }

    /// <summary>Rooms cached now (for tests and diagnostics).</summary>
    public int Count => _entries.Count;

    private async Task<RoomState?> GetStateAsync(Guid roomId, CancellationToken cancellationToken)
    {
        if (_trusted && _entries.TryGetValue(roomId, out var cached) && IsFresh(cached))
        {
            return cached.State;
        }
        var generation = Interlocked.Read(ref _generation);
        var state = await rooms.GetStateAsync(roomId, cancellationToken);
        if (state is not null && _trusted && Interlocked.Read(ref _generation) == generation)
        {
            _entries[roomId] = new Entry(state, timeProvider.GetTimestamp());
        }
        return state;
    }

    // An ended room never reopens, but it can still lose members, so it expires like any other.
    private bool IsFresh(Entry entry) => timeProvider.GetElapsedTime(entry.LoadedAt) < options.Value.Lifetime;

    private sealed record Entry(RoomState State, long LoadedAt);
}
