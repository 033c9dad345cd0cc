using Conductor.Api.Rooms;
using Conductor.Tests.Audit;
using Conductor.Tests.Infrastructure;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Conductor.Tests.Rooms;

/// <summary>
/// The per-instance room state cache against a real Postgres, on a clock the test moves: what it serves from memory,
/// and the bounds on how stale that can be (an invalidation, the Redis subscription dropping, the lifetime).
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class RoomStateCacheTests(PostgresServerFixture postgres)
{
    private static readonly TimeSpan Lifetime = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task A_removal_no_event_announced_stops_being_served_once_the_lifetime_has_passed()
    {
        await using var dataSource = await AuditLogTests.MigratedAsync(postgres, "roomcache");
        var (host, room) = await AuditLogTests.SeedRoomAsync(dataSource);
        var clock = new ManualClock();
        var cache = new RoomStateCache(new RoomStore(dataSource, clock), clock, Options.Create(new RoomStateCacheOptions { Lifetime = Lifetime }));

        Assert.Equal(RoomRole.Host, await cache.GetRoleAsync(room, host, CancellationToken.None));
        await RemoveBehindTheCacheAsync(dataSource, room, host);

        // Cached: the change went around the Api, so no event told this instance.
        clock.Advance(Lifetime - TimeSpan.FromMilliseconds(1));
        Assert.Equal(RoomRole.Host, await cache.GetRoleAsync(room, host, CancellationToken.None));
        // The bound: from then on, Postgres's answer.
        clock.Advance(TimeSpan.FromMilliseconds(1));
        Assert.Null(await cache.GetRoleAsync(room, host, CancellationToken.None));
    }

    [Fact]
    public async Task An_invalidation_or_a_lost_subscription_takes_effect_at_once_and_refusals_are_never_cached()
    {
        await using var dataSource = await AuditLogTests.MigratedAsync(postgres, "roomcache");
        var (host, room) = await AuditLogTests.SeedRoomAsync(dataSource);
        var clock = new ManualClock();
        var cache = new RoomStateCache(new RoomStore(dataSource, clock), clock, Options.Create(new RoomStateCacheOptions { Lifetime = Lifetime }));
        var guest = await AddGuestAsync(dataSource, room);

        Assert.Equal(RoomRole.Guest, await cache.GetRoleAsync(room, guest, CancellationToken.None));
        Assert.False(await cache.IsEndedAsync(room, CancellationToken.None));
        await RemoveBehindTheCacheAsync(dataSource, room, guest);
        await ExecuteAsync(dataSource, "UPDATE rooms SET ended_at = now() WHERE id = $1", room);
        Assert.Equal(RoomRole.Guest, await cache.GetRoleAsync(room, guest, CancellationToken.None));
        Assert.False(await cache.IsEndedAsync(room, CancellationToken.None));

        cache.Invalidate(room); // the member_removed / room_ended event arrived
        Assert.Null(await cache.GetRoleAsync(room, guest, CancellationToken.None));
        Assert.True(await cache.IsEndedAsync(room, CancellationToken.None));

        // Someone not in the cached member list is asked of Postgres: a join is seen at once, without an event.
        var late = await AddGuestAsync(dataSource, room);
        Assert.Equal(RoomRole.Guest, await cache.GetRoleAsync(room, late, CancellationToken.None));

        // While room events may be lost, nothing is served from memory.
        cache.Suspend();
        Assert.Equal(RoomRole.Guest, await cache.GetRoleAsync(room, late, CancellationToken.None));
        await RemoveBehindTheCacheAsync(dataSource, room, late);
        Assert.Null(await cache.GetRoleAsync(room, late, CancellationToken.None));
        Assert.Equal(0, cache.Count);
        cache.Resume();
        Assert.Equal(RoomRole.Host, await cache.GetRoleAsync(room, host, CancellationToken.None));
        Assert.Equal(1, cache.Count);

        clock.Advance(Lifetime);
        cache.Sweep();
        Assert.Equal(0, cache.Count);
    }

    private static async Task<Guid> AddGuestAsync(NpgsqlDataSource dataSource, Guid room)
    {
        var guest = Guid.NewGuid();
        await ExecuteAsync(dataSource, "INSERT INTO users (id, login, created_at, updated_at) VALUES ($1, $2, now(), now())", guest, $"g-{guest:N}"[..30]);
        await ExecuteAsync(dataSource, "INSERT INTO room_members (room_id, user_id, role, joined_at) VALUES ($1, $2, 'guest', now())", room, guest);
        return guest;
    }

    private static Task RemoveBehindTheCacheAsync(NpgsqlDataSource dataSource, Guid room, Guid user) =>
        ExecuteAsync(dataSource, "DELETE FROM room_members WHERE room_id = $1 AND user_id = $2", room, user);

    private static async Task ExecuteAsync(NpgsqlDataSource dataSource, string sql, params object[] parameters)
    {
        await using var command = dataSource.CreateCommand(sql);
        foreach (var parameter in parameters)
        {
            command.Parameters.Add(new NpgsqlParameter { Value = parameter });
        }
        await command.ExecuteNonQueryAsync();
    }

    /// <summary>A clock that moves only when told (the cache measures ages with <see cref="TimeProvider.GetTimestamp"/>).</summary>
    private sealed class ManualClock : TimeProvider
    {
        private DateTimeOffset _now = new(2026, 11, 26, 12, 0, 0, TimeSpan.Zero);
        public override DateTimeOffset GetUtcNow() => _now;
        public override long GetTimestamp() => _now.UtcTicks;
        public override long TimestampFrequency => TimeSpan.TicksPerSecond;
        public void Advance(TimeSpan by) => _now += by;
    }
}
