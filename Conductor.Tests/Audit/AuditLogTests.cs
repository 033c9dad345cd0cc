using Conductor.Api.Audit;
using Conductor.Data.Migrations;
using Conductor.Tests.Data;
using Conductor.Tests.Infrastructure;
using Npgsql;

namespace Conductor.Tests.Audit;

[Collection(PostgresCollection.Name)]
public sealed class AuditLogTests(PostgresServerFixture postgres)
{
    internal static async Task<NpgsqlDataSource> MigratedAsync(PostgresServerFixture postgres, string prefix)
    {
        var dataSource = NpgsqlDataSource.Create(await postgres.CreateDatabaseAsync(prefix));
        await MigrationTests.Runner(dataSource, new EmbeddedMigrationSource()).RunAsync(CancellationToken.None);
        return dataSource;
    }

    /// <summary>A user and a room of theirs, straight in the tables (the rooms feature is tested over HTTP elsewhere).</summary>
    internal static async Task<(Guid User, Guid Room)> SeedRoomAsync(NpgsqlDataSource dataSource)
    {
        var user = Guid.NewGuid();
        var room = Guid.NewGuid();
        await using var batch = dataSource.CreateBatch();
        batch.BatchCommands.Add(new NpgsqlBatchCommand("INSERT INTO users (id, login, created_at, updated_at) VALUES ($1, $2, now(), now())")
        { Parameters = { new() { Value = user }, new() { Value = $"u-{user:N}"[..30] } } });
        batch.BatchCommands.Add(new NpgsqlBatchCommand("INSERT INTO rooms (id, name, host_user_id, created_at) VALUES ($1, 'room', $2, now())")
        { Parameters = { new() { Value = room }, new() { Value = user } } });
        batch.BatchCommands.Add(new NpgsqlBatchCommand("INSERT INTO room_members (room_id, user_id, role, joined_at) VALUES ($1, $2, 'host', now())")
        { Parameters = { new() { Value = room }, new() { Value = user } } });
        await batch.ExecuteNonQueryAsync();
        return (user, room);
    }

    [Fact]
    public async Task The_database_refuses_to_update_delete_or_truncate_audit_entries()
    {
        await using var dataSource = await MigratedAsync(postgres, "audit");
        var audit = new AuditLog(dataSource, TimeProvider.System);
        var (user, room) = await SeedRoomAsync(dataSource);
        var entry = await audit.AppendAsync(room, user, AuditActions.Applied, "server", Guid.NewGuid(), Guid.NewGuid(), "src/a.cs", null,
            CancellationToken.None);

        foreach (var sql in new[]
        {
            "UPDATE audit_log SET action = 'skipped'",
            "DELETE FROM audit_log",
            "TRUNCATE audit_log",
        })
        {
            await using var command = dataSource.CreateCommand(sql);
            var error = await Assert.ThrowsAsync<PostgresException>(() => command.ExecuteNonQueryAsync());
            Assert.Contains("append-only", error.MessageText, StringComparison.Ordinal);
        }
        var entries = await audit.QueryAsync(room, null, 10, CancellationToken.None);
        Assert.Equal(entry with { CreatedAt = entries[0].CreatedAt }, Assert.Single(entries));
        Assert.Equal(AuditActions.Applied, entries[0].Action);
    }

    [Fact]
    public async Task Entries_come_back_oldest_first_per_room_after_since_and_up_to_limit()
    {
        await using var dataSource = await MigratedAsync(postgres, "audit");
        var time = new ManualTime(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
        var audit = new AuditLog(dataSource, time);
        var (user, room) = await SeedRoomAsync(dataSource);
        var (otherUser, otherRoom) = await SeedRoomAsync(dataSource);
        for (var i = 0; i < 5; i++)
        {
            await audit.AppendAsync(room, user, AuditActions.Skipped, "client", null, null, $"f{i}", null, CancellationToken.None);
            await audit.AppendAsync(otherRoom, otherUser, AuditActions.Skipped, "client", null, null, "other-room", null, CancellationToken.None);
            time.Advance(TimeSpan.FromMinutes(1));
        }
        var all = await audit.QueryAsync(room, null, 100, CancellationToken.None);
        Assert.Equal(["f0", "f1", "f2", "f3", "f4"], all.Select(e => e.FilePath));
        var later = await audit.QueryAsync(room, all[1].CreatedAt, 2, CancellationToken.None);
        Assert.Equal(["f2", "f3"], later.Select(e => e.FilePath));
    }

    private sealed class ManualTime(DateTimeOffset now) : TimeProvider
    {
        private DateTimeOffset _now = now;
        public override DateTimeOffset GetUtcNow() => _now;
        public void Advance(TimeSpan by) => _now += by;
    }
}
