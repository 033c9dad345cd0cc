using Conductor.AppHost;
using Conductor.Hosting;

namespace Conductor.Tests.Infrastructure;

/// <summary>
/// What Aspire.Hosting.Testing does for Aspire: builds the AppHost's own model (ConductorModel.Define) with
/// isolated data, free ports and throwaway clusters, so a test runs the real topology next to anything else.
/// </summary>
public static class DistributedApplicationTestingBuilder
{
    public static DistributedApplication Create(string dataDirectory, IReadOnlyDictionary<string, string?>? configuration = null)
    {
        var builder = DistributedApplicationBuilder.Create(new DistributedApplicationOptions
        {
            DataDirectory = dataDirectory,
            RandomizePorts = true,
            DurableData = false,
            Configuration = configuration ?? new Dictionary<string, string?>(),
        }, typeof(ConductorModel).Assembly);
        ConductorModel.Define(builder);
        return builder.Build();
    }
}
