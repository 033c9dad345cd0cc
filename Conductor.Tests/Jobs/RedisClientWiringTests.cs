using System.Net;
using System.Net.Sockets;
using Conductor.Tests.Infrastructure;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using StackExchange.Redis;

namespace Conductor.Tests.Jobs;

/// <summary>
/// The services take Redis from Aspire's <c>AddRedisClient("redis")</c>, called exactly as the Api and GitWorker call
/// it: a service must come up while Redis is away (Aspire's client does not abort on a failed first connect, so
/// restarts and a late Redis need nothing from us), say so through its health check, and never show the password.
/// </summary>
[Collection(InfrastructureCollection.Name)]
public sealed class RedisClientWiringTests(RedisServerFixture redis)
{
    [Fact]
    public async Task A_service_starts_while_redis_is_unreachable_and_its_health_check_says_so_without_the_password()
    {
        const string Password = "s3cret-never-shown";
        using var host = Build($"127.0.0.1:{ClosedPort()},password={Password},connectTimeout=500");
        await host.StartAsync();

        var connection = host.Services.GetRequiredService<IConnectionMultiplexer>();
        var report = await host.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync();

        Assert.False(connection.IsConnected);
        var entry = Assert.Single(report.Entries).Value;
        Assert.Equal(HealthStatus.Unhealthy, entry.Status);
        Assert.DoesNotContain(Password, $"{entry.Description} {entry.Exception}", StringComparison.Ordinal);
        await host.StopAsync();
    }

    [Fact]
    public async Task A_service_pointed_at_a_live_redis_reports_it_healthy()
    {
        using var host = Build(redis.ConnectionString);
        await host.StartAsync();

        var report = await host.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync();

        Assert.Equal(HealthStatus.Healthy, Assert.Single(report.Entries).Value.Status);
        var connection = host.Services.GetRequiredService<IConnectionMultiplexer>();
        await connection.GetDatabase().PingAsync();
        Assert.True(connection.IsConnected);
        await host.StopAsync();
    }

    private static IHost Build(string connectionString)
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?> { ["ConnectionStrings:redis"] = connectionString });
        // As Conductor.Api and Conductor.GitWorker do.
        builder.AddRedisClient("redis");
        return builder.Build();
    }

    /// <summary>A port nothing listens on: bound, read, released.</summary>
    private static int ClosedPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
