using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Threading.Channels;
using Conductor.Redis;
using Conductor.Tests.Infrastructure;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;

namespace Conductor.Tests.Redis;

[Collection(RedisCollection.Name)]
public sealed class RedisResilienceTests(RedisServerFixture server)
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(20);

    private const string SlowScript =
        "local t = redis.call('TIME'); local start = t[1] * 1000 + t[2] / 1000; " +
        "while true do local n = redis.call('TIME'); if n[1] * 1000 + n[2] / 1000 - start > tonumber(ARGV[1]) then break end end; return 'slept'";

    [Theory]
    [InlineData("resp3")]
    [InlineData("resp2")]
    public async Task Survives_a_server_restart_in_the_middle_of_use(string protocol)
    {
        var prefix = $"test:{Guid.NewGuid():N}:";
        var options = RedisConnectionOptions.Parse($"{server.ConnectionString},protocol={protocol},syncTimeout=10000") with
        {
            ReconnectMaxDelay = TimeSpan.FromMilliseconds(500),
        };
        await using var client = await RedisClient.ConnectAsync(options);
        await using var subscriber = await RedisSubscriber.ConnectAsync(options);
        var received = Channel.CreateUnbounded<string>();
        await using var exact = await subscriber.SubscribeAsync(prefix + "events", (m, _) => received.Writer.WriteAsync("exact:" + m.Text).AsTask());
        await using var pattern = await subscriber.SubscribePatternAsync(prefix + "ev*", (m, _) => received.Writer.WriteAsync("pattern:" + m.Text).AsTask());
        await client.StreamCreateGroupAsync(prefix + "jobs", "g");
        Assert.Equal(2, await client.PublishAsync(prefix + "events", "before"));
        Assert.Equal(["exact:before", "pattern:before"], new[] { await ReadAsync(received), await ReadAsync(received) }.Order());

        // In flight when the server dies: a slow script on the shared connection and a blocking read on a dedicated one.
        // (The read goes first: the script keeps the single-threaded server from serving anything else.)
        var blocking = client.StreamReadGroupAsync(prefix + "jobs", "g", "c", 1, TimeSpan.FromSeconds(30)).AsTask();
        await Task.Delay(300);
        var slow = client.EvalAsync(SlowScript, [], [3000]).AsTask();
        await Task.Delay(200);
        Assert.False(blocking.IsCompleted);
        var restart = server.RestartAsync(discardData: true);

        var lost = await Assert.ThrowsAsync<RedisConnectionException>(() => slow.WaitAsync(Patience));
        Assert.Contains("EVAL", lost.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<RedisConnectionException>(() => blocking.WaitAsync(Patience));

        // Issued while the server is down: waits for the reconnect and then goes through.
        var duringOutage = client.SetAsync(prefix + "written-during-outage", "yes").AsTask();
        await restart;
        Assert.True(await duringOutage.WaitAsync(Patience));
        Assert.Equal("yes", (await client.GetAsync(prefix + "written-during-outage")).ToString());
        Assert.Equal(1, await client.IncrementAsync(prefix + "counter"));
        Assert.True(client.IsConnected);

        // Subscriptions come back on their own; publish until both are there again.
        var deadline = DateTime.UtcNow + Patience;
        while (await client.PublishAsync(prefix + "events", "probe") < 2)
        {
            Assert.True(DateTime.UtcNow < deadline, "the subscriptions were not restored");
            await Task.Delay(50);
        }
        Assert.Equal(2, await client.PublishAsync(prefix + "events", "after"));
        var afterRestart = new List<string>();
        while (afterRestart.Count(m => m.EndsWith(":after", StringComparison.Ordinal)) < 2)
        {
            afterRestart.Add(await ReadAsync(received));
        }
        Assert.Contains("exact:after", afterRestart);
        Assert.Contains("pattern:after", afterRestart);

        // Streams work again too (the data was discarded, so the group is made anew).
        Assert.True(await client.StreamCreateGroupAsync(prefix + "jobs", "g"));
        var read = client.StreamReadGroupAsync(prefix + "jobs", "g", "c", 1, TimeSpan.FromSeconds(5)).AsTask();
        await Task.Delay(100);
        await client.StreamAddAsync(prefix + "jobs", [new("job", "1")]);
        Assert.Single(await read.WaitAsync(Patience));
    }

    private static async Task<string> ReadAsync(Channel<string> channel) => await channel.Reader.ReadAsync().AsTask().WaitAsync(Patience);

    [Fact]
    public async Task A_malformed_reply_fails_the_connection_not_the_process_and_the_client_reconnects()
    {
        // A fake server that speaks RESP2 (it rejects HELLO) and answers the second command on its first connection
        // with garbage. Every connection after that behaves.
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        using var stop = new CancellationTokenSource();
        var connections = 0;
        var fake = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                var socket = await listener.AcceptSocketAsync(stop.Token);
                var number = Interlocked.Increment(ref connections);
                _ = Task.Run(() => ServeAsync(socket, corruptSecondReply: number == 1, stop.Token));
            }
        });

        await using var client = await RedisClient.ConnectAsync($"127.0.0.1:{port},syncTimeout=5000");
        Assert.Equal(2, client.Protocol);
        Assert.Equal("PONG", (await client.ExecuteAsync("PING")).AsString());

        var broken = await Assert.ThrowsAsync<RedisConnectionException>(async () => await client.ExecuteAsync("PING"));
        Assert.Contains("Protocol error", broken.Message, StringComparison.Ordinal);
        Assert.Contains("type byte", broken.Message, StringComparison.Ordinal);

        Assert.Equal("PONG", (await client.ExecuteAsync("PING")).AsString());
        Assert.Equal(2, Volatile.Read(ref connections));
        await stop.CancelAsync();
        await fake.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing | ConfigureAwaitOptions.ContinueOnCapturedContext);
    }

    private static async Task ServeAsync(Socket socket, bool corruptSecondReply, CancellationToken cancellationToken)
    {
        using var _ = socket;
        var buffer = new byte[4096];
        var pending = new StringBuilder();
        var commands = 0;
        while (!cancellationToken.IsCancellationRequested)
        {
            var read = await socket.ReceiveAsync(buffer, cancellationToken);
            if (read == 0)
            {
                return;
            }
            pending.Append(Encoding.ASCII.GetString(buffer, 0, read));
            // Each command from the client is one array; count the ones that arrived completely.
            while (TryTakeCommand(pending, out var name))
            {
                var reply = name == "HELLO" ? "-ERR unknown command 'HELLO'\r\n"
                    : ++commands == 2 && corruptSecondReply ? "?garbage\r\n"
                    : "+PONG\r\n";
                await socket.SendAsync(Encoding.ASCII.GetBytes(reply), cancellationToken);
            }
        }
    }

    private static bool TryTakeCommand(StringBuilder pending, out string name)
    {
        name = "";
        var text = pending.ToString();
        var lines = text.Split("\r\n");
        if (lines.Length < 2 || !lines[0].StartsWith('*'))
        {
            return false;
        }
        var parts = int.Parse(lines[0][1..], System.Globalization.CultureInfo.InvariantCulture);
        var needed = 1 + 2 * parts;
        if (lines.Length <= needed)
        {
            return false;
        }
        name = lines[2];
        pending.Remove(0, string.Join("\r\n", lines.Take(needed)).Length + 2);
        return true;
    }

    [Fact]
    public void A_missing_connection_string_fails_at_start_up_naming_the_variable()
    {
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());

        var error = Assert.Throws<InvalidOperationException>(() => builder.AddConductorRedis());

        Assert.Contains("ConnectionStrings__redis", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Registers_the_client_subscriber_and_a_health_check()
    {
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?> { ["ConnectionStrings:redis"] = server.ConnectionString });
        builder.AddConductorRedis();
        using var host = builder.Build();

        var client = host.Services.GetRequiredService<IRedisClient>();
        Assert.Same(client, host.Services.GetRequiredService<RedisClient>());
        Assert.Same(client, host.Services.GetRequiredKeyedService<IRedisClient>("redis"));
        Assert.NotNull(host.Services.GetRequiredService<IRedisSubscriber>());
        Assert.Equal("PONG", (await client.ExecuteAsync("PING")).AsString());

        var health = await host.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync();
        Assert.Equal(HealthStatus.Healthy, health.Status);
        Assert.Equal(HealthStatus.Healthy, health.Entries["redis"].Status);
        await host.StopAsync();
    }

    [Fact]
    public async Task The_health_check_reports_an_unreachable_server_as_unhealthy()
    {
        var port = Conductor.LocalServers.FreePort.Next();
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["ConnectionStrings:redis"] = $"127.0.0.1:{port},abortConnect=false,connectTimeout=200",
        });
        builder.AddConductorRedis();
        using var host = builder.Build();

        var health = await host.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync();

        Assert.Equal(HealthStatus.Unhealthy, health.Entries["redis"].Status);
    }
}
