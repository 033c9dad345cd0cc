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

    [Fact]
    public async Task The_database_refuses_to_update_delete_or_truncate_audit_entries()
    {
        await using var dataSource = await MigratedAsync(postgres, "audit");
        var audit = new AuditLog(dataSource, TimeProvider.System);
        var room = Guid.NewGuid();
        var entry = await audit.AppendAsync(room, Guid.NewGuid(), AuditActions.Applied, "server", Guid.NewGuid(), Guid.NewGuid(), "src/a.cs", null,
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
        var room = Guid.NewGuid();
        var user = Guid.NewGuid();
        for (var i = 0; i < 5; i++)
        {
            await audit.AppendAsync(room, user, AuditActions.Skipped, "client", null, null, $"f{i}", null, CancellationToken.None);
            await audit.AppendAsync(Guid.NewGuid(), user, AuditActions.Skipped, "client", null, null, "other-room", null, CancellationToken.None);
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
