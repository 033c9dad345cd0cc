using Conductor.Redis;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Logging;

namespace Microsoft.Extensions.Hosting;

public static class RedisHostingExtensions
{
    /// <summary>
    /// Registers <see cref="IRedisClient"/> (<see cref="RedisClient"/>) and <see cref="IRedisSubscriber"/>
    /// (<see cref="RedisSubscriber"/>) as singletons, disposed at shutdown, configured from
    /// <c>ConnectionStrings:{connectionName}</c> (the environment variable <c>ConnectionStrings__{connectionName}</c>
    /// that Aspire sets), plus a health check named <paramref name="connectionName"/> that PINGs with a short timeout.
    /// The services are also registered keyed by <paramref name="connectionName"/>.
    /// </summary>
    /// <exception cref="InvalidOperationException">The connection string is missing.</exception>
    /// <exception cref="FormatException">The connection string is malformed.</exception>
    public static IHostApplicationBuilder AddConductorRedis(this IHostApplicationBuilder builder, string connectionName = "redis")
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentException.ThrowIfNullOrWhiteSpace(connectionName);
        var connectionString = builder.Configuration.GetConnectionString(connectionName);
        if (string.IsNullOrWhiteSpace(connectionString))
        {
            throw new InvalidOperationException(
                $"The Redis connection string 'ConnectionStrings:{connectionName}' is missing. Set the environment variable " +
                $"ConnectionStrings__{connectionName} (for example 'localhost:6379,password=...').");
        }
        var options = RedisConnectionOptions.Parse(connectionString);

        builder.Services.AddKeyedSingleton(connectionName, options);
        builder.Services.AddKeyedSingleton(connectionName, (services, _) =>
        {
            var loggerFactory = services.GetRequiredService<ILoggerFactory>();
            // abortConnect=true: fail where the client is first resolved, as StackExchange.Redis does; otherwise connect in the background.
            return options.AbortOnConnectFail
                ? RedisClient.ConnectAsync(options, loggerFactory).GetAwaiter().GetResult()
                : RedisClient.Create(options, loggerFactory);
        });
        builder.Services.AddKeyedSingleton(connectionName, (services, _) =>
            RedisSubscriber.Create(options, services.GetRequiredService<ILoggerFactory>()));
        builder.Services.AddKeyedSingleton<IRedisClient>(connectionName, (services, key) => services.GetRequiredKeyedService<RedisClient>(key));
        builder.Services.AddKeyedSingleton<IRedisSubscriber>(connectionName, (services, key) => services.GetRequiredKeyedService<RedisSubscriber>(key));

        builder.Services.TryAddSingleton(services => services.GetRequiredKeyedService<RedisConnectionOptions>(connectionName));
        builder.Services.TryAddSingleton(services => services.GetRequiredKeyedService<RedisClient>(connectionName));
        builder.Services.TryAddSingleton(services => services.GetRequiredKeyedService<RedisSubscriber>(connectionName));
        builder.Services.TryAddSingleton<IRedisClient>(services => services.GetRequiredKeyedService<RedisClient>(connectionName));
        builder.Services.TryAddSingleton<IRedisSubscriber>(services => services.GetRequiredKeyedService<RedisSubscriber>(connectionName));

        builder.Services.AddHealthChecks().Add(new HealthCheckRegistration(
            connectionName,
            services => new RedisHealthCheck(services.GetRequiredKeyedService<IRedisClient>(connectionName)),
            failureStatus: null,
            tags: ["ready"]));
        return builder;
    }
}

/// <summary>Healthy when a PING comes back within <see cref="Timeout"/>.</summary>
public sealed class RedisHealthCheck(IRedisClient client) : IHealthCheck
{
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(2);

    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(Timeout);
        try
        {
            var roundTrip = await client.PingAsync(timeout.Token).ConfigureAwait(false);
            return HealthCheckResult.Healthy($"PING answered in {roundTrip.TotalMilliseconds:F1} ms.");
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return new HealthCheckResult(context.Registration.FailureStatus, $"PING got no answer within {Timeout.TotalSeconds:F0} s.");
        }
        catch (Exception exception) when (exception is RedisException or TimeoutException)
        {
            return new HealthCheckResult(context.Registration.FailureStatus, "PING failed.", exception);
        }
    }
}
