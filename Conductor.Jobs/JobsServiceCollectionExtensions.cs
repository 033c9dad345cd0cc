using Conductor.Jobs.Diagnostics;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Conductor.Jobs;

public static class JobsServiceCollectionExtensions
{
    /// <summary>
    /// The producer side (<see cref="IJobQueue"/>), as the Api needs it. Needs <c>AddConductorDatabase</c> and
    /// <c>AddRedisClient("redis")</c> (Aspire.StackExchange.Redis: an <c>IConnectionMultiplexer</c>); options come from the <c>Jobs</c> section and are validated at start-up.
    /// </summary>
    public static IHostApplicationBuilder AddConductorJobQueue(this IHostApplicationBuilder builder)
    {
        builder.Services.TryAddSingleton(TimeProvider.System);
        builder.Services.AddOptions<JobQueueOptions>().Bind(builder.Configuration.GetSection(JobQueueOptions.SectionName)).ValidateOnStart();
        builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<JobQueueOptions>, JobQueueOptionsValidator>());
        builder.Services.TryAddSingleton<JobStore>();
        builder.Services.TryAddSingleton<IJobTransport, RedisJobTransport>();
        builder.Services.TryAddSingleton<JobEventPublisher>();
        builder.Services.TryAddSingleton<IJobQueue, JobQueue>();
        return builder;
    }

    /// <summary>
    /// The consumer side: a hosted worker that runs the registered <see cref="IJobHandler"/>s. Register it after the
    /// migrations so the schema exists before the worker's start-up sweep. With <c>Jobs:DiagnosticKinds=true</c>
    /// the <c>diagnostic.*</c> kinds are registered too (for tests of the real process; off by default).
    /// </summary>
    public static IHostApplicationBuilder AddConductorJobWorker(this IHostApplicationBuilder builder)
    {
        builder.AddConductorJobQueue();
        builder.Services.TryAddSingleton<JobProcessor>();
        builder.Services.TryAddSingleton<JobRecovery>();
        builder.Services.AddHostedService<JobWorker>();
        if (builder.Configuration.GetValue<bool>($"{JobQueueOptions.SectionName}:{nameof(JobQueueOptions.DiagnosticKinds)}"))
        {
            builder.Services.AddJobHandler<SleepJobHandler>();
            builder.Services.AddJobHandler<FailJobHandler>();
        }
        return builder;
    }

    public static IServiceCollection AddJobHandler<THandler>(this IServiceCollection services) where THandler : class, IJobHandler
    {
        services.AddSingleton<IJobHandler, THandler>();
        return services;
    }
}
