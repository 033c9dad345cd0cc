using Conductor.LocalServers;
using Conductor.Tests.Infrastructure;
using Npgsql;

namespace Conductor.Tests.Hosting;

public sealed class ProvisioningTests
{
    [Fact]
    public async Task Postgres_keeps_its_data_and_password_across_restarts()
    {
        var directory = TestDirectories.Create("pg-restart");
        try
        {
            var password = SecretStore.Generate();
            await using (var first = await LocalPostgresServer.StartAsync(new LocalPostgresOptions(directory, password) { Durable = false }))
            {
                await first.EnsureDatabaseAsync("conductordb");
                await using var connection = new NpgsqlConnection(first.ConnectionStringFor("conductordb") + ";Pooling=false");
                await connection.OpenAsync();
                await using var command = new NpgsqlCommand("CREATE TABLE kept (value text); INSERT INTO kept VALUES ('still here')", connection);
                await command.ExecuteNonQueryAsync();
            }

            await using var second = await LocalPostgresServer.StartAsync(new LocalPostgresOptions(directory, password) { Durable = false });
            await using var reopened = new NpgsqlConnection(second.ConnectionStringFor("conductordb") + ";Pooling=false");
            await reopened.OpenAsync();
            await using var read = new NpgsqlCommand("SELECT value FROM kept", reopened);
            Assert.Equal("still here", await read.ExecuteScalarAsync());
        }
        finally
        {
            TestDirectories.TryDelete(directory);
        }
    }

    [Fact]
    public async Task Postgres_refuses_a_wrong_password()
    {
        var directory = TestDirectories.Create("pg-auth");
        try
        {
            await using var server = await LocalPostgresServer.StartAsync(new LocalPostgresOptions(directory, SecretStore.Generate()) { Durable = false });
            var wrong = $"Host=127.0.0.1;Port={server.Port};Username=postgres;Password=not-the-password;Database=postgres;Pooling=false";
            await using var connection = new NpgsqlConnection(wrong);
            var error = await Assert.ThrowsAsync<PostgresException>(() => connection.OpenAsync());
            Assert.Equal(PostgresErrorCodes.InvalidPassword, error.SqlState);
        }
        finally
        {
            TestDirectories.TryDelete(directory);
        }
    }

    [Fact]
    public async Task Redis_requires_its_password_and_restarts_on_the_same_port()
    {
        var directory = TestDirectories.Create("redis-restart");
        try
        {
            await using var server = await LocalRedisServer.StartAsync(new LocalRedisOptions(directory, SecretStore.Generate()));
            Assert.True(await server.PingAsync());
            var port = server.Port;
            var firstPid = server.ProcessId;

            await server.RestartAsync();
            Assert.Equal(port, server.Port);
            Assert.NotEqual(firstPid, server.ProcessId);
            Assert.True(await server.PingAsync());

            await server.StopAsync();
            Assert.False(await server.PingAsync());
        }
        finally
        {
            TestDirectories.TryDelete(directory);
        }
    }

    [Fact]
    public async Task Password_never_appears_in_the_server_command_line()
    {
        // The configuration is a file only its owner reads; argv is readable by every user on the machine.
        var directory = TestDirectories.Create("redis-argv");
        try
        {
            var password = SecretStore.Generate();
            await using var server = await LocalRedisServer.StartAsync(new LocalRedisOptions(directory, password));
            var commandLine = await File.ReadAllTextAsync($"/proc/{server.ProcessId}/cmdline");
            Assert.DoesNotContain(password, commandLine, StringComparison.Ordinal);
            var configuration = Path.Combine(directory, "redis.conf");
            Assert.Contains(password, await File.ReadAllTextAsync(configuration), StringComparison.Ordinal);
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(configuration));
        }
        finally
        {
            TestDirectories.TryDelete(directory);
        }
    }

    [Fact]
    public void A_data_folder_held_by_one_run_is_refused_to_a_second_with_a_clear_message()
    {
        var directory = TestDirectories.Create("lock");
        try
        {
            using (DataFolderLock.Acquire(directory))
            {
                var error = Assert.Throws<ProvisioningException>(() => DataFolderLock.Acquire(directory));
                Assert.Contains("already running", error.Message, StringComparison.Ordinal);
                Assert.Contains(directory, error.Message, StringComparison.Ordinal);
                Assert.Contains($"pid {Environment.ProcessId}", error.Message, StringComparison.Ordinal);
            }
            // Released with its holder: the next run gets it.
            using var next = DataFolderLock.Acquire(directory);
        }
        finally
        {
            TestDirectories.TryDelete(directory);
        }
    }

    [Fact]
    public void Secret_store_is_private_and_stable()
    {
        var directory = TestDirectories.Create("secrets");
        try
        {
            var path = Path.Combine(directory, "secrets.json");
            var store = new SecretStore(path);
            var first = store.GetOrCreate("redis");
            Assert.Equal(first, new SecretStore(path).GetOrCreate("redis"));
            Assert.NotEqual(first, store.GetOrCreate("postgres"));
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
        }
        finally
        {
            TestDirectories.TryDelete(directory);
        }
    }
}
