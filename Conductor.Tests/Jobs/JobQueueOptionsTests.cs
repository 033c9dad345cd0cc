using Conductor.Jobs;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Conductor.Tests.Jobs;

public sealed class JobQueueOptionsTests
{
    [Fact]
    public async Task Invalid_job_options_stop_the_host_at_start_up_with_every_problem_named()
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["ConnectionStrings:conductordb"] = "Host=127.0.0.1;Port=1;Username=x;Password=y;Database=z",
            ["ConnectionStrings:redis"] = "127.0.0.1:1,abortConnect=false",
            ["Jobs:MaxAttempts"] = "0",
            ["Jobs:BlockTime"] = "00:00:10",
            ["Jobs:ClaimIdleTimeout"] = "00:00:05",
        });
        builder.AddRedisClient("redis");
        builder.AddConductorJobQueue();
        using var host = builder.Build();

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());

        Assert.Contains(error.Failures, f => f.Contains("Jobs:MaxAttempts", StringComparison.Ordinal));
        Assert.Contains(error.Failures, f => f.Contains("Jobs:ClaimIdleTimeout", StringComparison.Ordinal));
    }

    [Fact]
    public void The_defaults_are_valid() =>
        Assert.True(new JobQueueOptionsValidator().Validate(null, new JobQueueOptions()).Succeeded);
}
