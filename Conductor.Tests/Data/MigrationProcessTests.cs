using Conductor.Data.Migrations;
using Conductor.Tests.Infrastructure;
using Npgsql;

namespace Conductor.Tests.Data;

/// <summary>The real services, started as separate processes at the same moment against one empty database.</summary>
[Collection(InfrastructureCollection.Name)]
public sealed class MigrationProcessTests(PostgresServerFixture postgres, RedisServerFixture redis)
{
    [Fact]
    public async Task Two_api_processes_and_a_gitworker_starting_together_migrate_once()
    {
        var connectionString = await postgres.CreateDatabaseAsync("procs");
        var environment = new Dictionary<string, string?>
        {
            ["ConnectionStrings__conductordb"] = connectionString,
            ["ConnectionStrings__redis"] = redis.ConnectionString,
        };
        var processes = new[]
        {
            ServiceInstance.Start("Conductor.Api", environment),
            ServiceInstance.Start("Conductor.Api", environment),
            ServiceInstance.Start("Conductor.GitWorker", environment),
        };
        try
        {
            await Task.WhenAll(processes.Select(p => p.WaitUntilListeningAsync(TimeSpan.FromSeconds(60))));

            var embedded = new EmbeddedMigrationSource().GetMigrations();
            await using var dataSource = NpgsqlDataSource.Create(connectionString);
            Assert.Equal(embedded.Select(m => m.Version), (await MigrationTests.HistoryAsync(dataSource)).Select(h => h.Version));
            Assert.True(await MigrationTests.TableExistsAsync(dataSource, "jobs"));
            foreach (var migration in embedded)
            {
                var appliers = processes.Count(p => p.Output.Contains($"Applied migration {migration.FileName}", StringComparison.Ordinal));
                Assert.True(appliers == 1, $"{migration.FileName} applied by {appliers} processes:\n{string.Join("\n---\n", processes.Select(p => p.Output))}");
            }
            Assert.All(processes, p => Assert.DoesNotContain("fail", p.Output, StringComparison.OrdinalIgnoreCase));
        }
        finally
        {
            foreach (var process in processes)
            {
                await process.DisposeAsync();
            }
        }
    }
}
