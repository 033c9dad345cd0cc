using Conductor.Data;
using Conductor.Data.Migrations;
using Conductor.Tests.Infrastructure;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace Conductor.Tests.Data;

[Collection(PostgresCollection.Name)]
public sealed class MigrationTests(PostgresServerFixture postgres)
{
    private static readonly TimeSpan TestTimeout = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task Embedded_migrations_create_the_jobs_table_and_record_their_history()
    {
        var connectionString = await postgres.CreateDatabaseAsync("migrate");
        await using var dataSource = NpgsqlDataSource.Create(connectionString);
        var embedded = new EmbeddedMigrationSource().GetMigrations();

        var result = await Runner(dataSource, new EmbeddedMigrationSource()).RunAsync(Timeout());

        Assert.Equal(embedded.Select(m => m.Version), result.Applied.Select(m => m.Version));
        Assert.Contains(embedded, m => m.FileName == "0001_initial.sql");
        Assert.True(await TableExistsAsync(dataSource, "jobs"));
        var history = await HistoryAsync(dataSource);
        Assert.Equal(embedded.Select(m => (m.Version, m.Checksum)), history.Select(h => (h.Version, h.Checksum)));
        Assert.All(history, h => Assert.Equal(64, h.Checksum.Length));

        // A second start finds nothing to do.
        var again = await Runner(dataSource, new EmbeddedMigrationSource()).RunAsync(Timeout());
        Assert.Empty(again.Applied);
        Assert.Equal(embedded.Count, again.AlreadyApplied);
    }

    [Fact]
    public async Task Runners_starting_together_apply_each_migration_exactly_once()
    {
        var connectionString = await postgres.CreateDatabaseAsync("race");
        // pg_sleep widens the window in which a second runner would interfere; CREATE TABLE fails if run twice.
        var source = new StaticMigrationSource([
            Migration.FromFile("0001_first.sql", "SELECT pg_sleep(0.3); CREATE TABLE first_table (id int);"),
            Migration.FromFile("0002_second.sql", "CREATE TABLE second_table (id int); SELECT pg_sleep(0.2);"),
        ]);
        var dataSources = Enumerable.Range(0, 4).Select(_ => NpgsqlDataSource.Create(connectionString)).ToList();
        try
        {
            using var start = new Barrier(dataSources.Count);
            var runs = dataSources.Select(ds => Task.Run(() =>
            {
                start.SignalAndWait(Timeout());
                return Runner(ds, source).RunAsync(Timeout());
            })).ToList();
            var results = await Task.WhenAll(runs);

            Assert.Equal(2, results.Sum(r => r.Applied.Count));
            Assert.Equal([1, 2], (await HistoryAsync(dataSources[0])).Select(h => h.Version));
        }
        finally
        {
            foreach (var ds in dataSources)
            {
                await ds.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task A_failing_migration_leaves_the_schema_as_it_was_and_names_the_file()
    {
        var connectionString = await postgres.CreateDatabaseAsync("failing");
        await using var dataSource = NpgsqlDataSource.Create(connectionString);
        var good = Migration.FromFile("0001_good.sql", "CREATE TABLE good (id int);");
        var bad = Migration.FromFile("0002_bad.sql",
            "CREATE TABLE half_done (id int);\nINSERT INTO good VALUES (1);\nINSERT INTO no_such_table VALUES (1);");

        var error = await Assert.ThrowsAsync<MigrationException>(() => Runner(dataSource, new StaticMigrationSource([good, bad])).RunAsync(Timeout()));

        Assert.Equal("0002_bad.sql", error.FileName);
        Assert.Contains("0002_bad.sql", error.Message, StringComparison.Ordinal);
        Assert.Contains("relation \"no_such_table\" does not exist", error.Message, StringComparison.Ordinal);
        Assert.IsType<PostgresException>(error.InnerException);
        Assert.True(await TableExistsAsync(dataSource, "good"));
        Assert.False(await TableExistsAsync(dataSource, "half_done"));
        Assert.Equal(0L, await ScalarAsync<long>(dataSource, "SELECT count(*) FROM good"));
        Assert.Equal([1], (await HistoryAsync(dataSource)).Select(h => h.Version));

        // Fixed in a later build, it applies on the next start.
        var fixedBad = Migration.FromFile("0002_bad.sql", "CREATE TABLE half_done (id int);");
        var result = await Runner(dataSource, new StaticMigrationSource([good, fixedBad])).RunAsync(Timeout());
        Assert.Equal(["0002_bad.sql"], result.Applied.Select(m => m.FileName));
    }

    [Fact]
    public async Task A_failing_migration_stops_the_host_before_it_starts()
    {
        var connectionString = await postgres.CreateDatabaseAsync("hostfail");
        var builder = Host.CreateApplicationBuilder();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?> { ["ConnectionStrings:conductordb"] = connectionString });
        builder.Services.AddSingleton<IMigrationSource>(new StaticMigrationSource([Migration.FromFile("0001_broken.sql", "CREATE TABLE broken (id no_such_type);")]));
        builder.AddConductorDatabase();
        builder.AddConductorMigrations();
        var started = false;
        builder.Services.AddHostedService(_ => new ProbeService(() => started = true));
        using var host = builder.Build();

        var error = await Assert.ThrowsAsync<MigrationException>(() => host.StartAsync(Timeout()));

        Assert.Contains("0001_broken.sql", error.Message, StringComparison.Ordinal);
        Assert.Contains("type \"no_such_type\" does not exist", error.Message, StringComparison.Ordinal);
        Assert.False(started, "a hosted service registered after the migrations must not start when they fail");
    }

    [Fact]
    public async Task A_changed_migration_that_was_already_applied_is_refused()
    {
        var connectionString = await postgres.CreateDatabaseAsync("drift");
        await using var dataSource = NpgsqlDataSource.Create(connectionString);
        await Runner(dataSource, new StaticMigrationSource([Migration.FromFile("0001_table.sql", "CREATE TABLE t (id int);")])).RunAsync(Timeout());

        var edited = new StaticMigrationSource([
            Migration.FromFile("0001_table.sql", "CREATE TABLE t (id bigint);"),
            Migration.FromFile("0002_next.sql", "CREATE TABLE next_table (id int);"),
        ]);
        var error = await Assert.ThrowsAsync<MigrationException>(() => Runner(dataSource, edited).RunAsync(Timeout()));

        Assert.Equal("0001_table.sql", error.FileName);
        Assert.Contains("changed after it was applied", error.Message, StringComparison.Ordinal);
        Assert.False(await TableExistsAsync(dataSource, "next_table"), "nothing runs after a checksum mismatch");
    }

    [Fact]
    public void Line_endings_do_not_count_as_drift_but_content_does()
    {
        Assert.Equal(Migration.ComputeChecksum("CREATE TABLE t (id int);\n"), Migration.ComputeChecksum("CREATE TABLE t (id int);\r\n"));
        Assert.NotEqual(Migration.ComputeChecksum("CREATE TABLE t (id int);"), Migration.ComputeChecksum("CREATE TABLE t (id bigint);"));
    }

    [Theory]
    [InlineData("1_short.sql")]
    [InlineData("0001-dash.sql")]
    [InlineData("0001_Upper.sql")]
    [InlineData("0001_initial.txt")]
    public void Badly_named_files_are_rejected(string fileName) =>
        Assert.Throws<MigrationException>(() => Migration.FromFile(fileName, "SELECT 1"));

    [Fact]
    public void Two_files_with_one_version_are_rejected() =>
        Assert.Throws<MigrationException>(() => new StaticMigrationSource([
            Migration.FromFile("0003_a.sql", "SELECT 1"), Migration.FromFile("0003_b.sql", "SELECT 2")]));

    internal static MigrationRunner Runner(NpgsqlDataSource dataSource, IMigrationSource source) =>
        new(dataSource, source, TimeProvider.System, NullLogger<MigrationRunner>.Instance);

    private static CancellationToken Timeout() => new CancellationTokenSource(TestTimeout).Token;

    internal static async Task<bool> TableExistsAsync(NpgsqlDataSource dataSource, string table) =>
        await ScalarAsync<bool>(dataSource, $"SELECT to_regclass('public.{table}') IS NOT NULL");

    internal static async Task<T> ScalarAsync<T>(NpgsqlDataSource dataSource, string sql)
    {
        await using var command = dataSource.CreateCommand(sql);
        return (T)(await command.ExecuteScalarAsync())!;
    }

    internal static async Task<List<(int Version, string Checksum)>> HistoryAsync(NpgsqlDataSource dataSource)
    {
        await using var command = dataSource.CreateCommand("SELECT version, checksum FROM schema_migrations ORDER BY version");
        await using var reader = await command.ExecuteReaderAsync();
        var rows = new List<(int, string)>();
        while (await reader.ReadAsync())
        {
            rows.Add((reader.GetInt32(0), reader.GetString(1)));
        }
        return rows;
    }

    private sealed class ProbeService(Action onStart) : IHostedService
    {
        public Task StartAsync(CancellationToken cancellationToken)
        {
            onStart();
            return Task.CompletedTask;
        }

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
