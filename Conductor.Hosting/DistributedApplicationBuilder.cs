using System.Reflection;
using Conductor.Hosting.ApplicationModel;
using Microsoft.Extensions.Configuration;

namespace Conductor.Hosting;

/// <summary>Run mode starts the resources locally; publish mode writes the deployment manifest.</summary>
public sealed record DistributedApplicationExecutionContext(bool IsPublishMode, string? PublisherName, string? OutputPath)
{
    public bool IsRunMode => !IsPublishMode;
}

/// <summary>Settings the tests (the role Aspire.Hosting.Testing plays) use to run a model in isolation.</summary>
public sealed record DistributedApplicationOptions
{
    public string[] Args { get; init; } = [];
    /// <summary>Where local servers keep data; defaults to <c>.conductor/</c> beside the solution.</summary>
    public string? DataDirectory { get; init; }
    /// <summary>Use free ports for every endpoint instead of the preferred ones, so runs can overlap.</summary>
    public bool RandomizePorts { get; init; }
    /// <summary>Throwaway clusters for tests: no fsync.</summary>
    public bool DurableData { get; init; } = true;
    /// <summary>Extra configuration layered over environment variables and arguments.</summary>
    public IReadOnlyDictionary<string, string?> Configuration { get; init; } = new Dictionary<string, string?>();
}

public interface IDistributedApplicationBuilder
{
    DistributedApplicationExecutionContext ExecutionContext { get; }
    IConfiguration Configuration { get; }
    /// <summary>The AppHost project's folder: project paths in the model are relative to it.</summary>
    string AppHostDirectory { get; }
    IReadOnlyList<Resource> Resources { get; }
    ResourceBuilder<T> AddResource<T>(T resource) where T : Resource;
    DistributedApplication Build();
}

/// <summary>Facts the AppHost's build writes into its assembly (see Conductor.AppHost.csproj).</summary>
public static class AppHostMetadata
{
    /// <summary>The AppHost project's folder.</summary>
    public const string ProjectDirectory = "AppHostProjectDirectory";

    /// <summary>Prefix of the keys that map a referenced project's .csproj to its built assembly.</summary>
    public const string ProjectTargetPathPrefix = "ProjectTargetPath:";
}

public sealed class DistributedApplicationBuilder : IDistributedApplicationBuilder
{
    private readonly List<Resource> _resources = [];
    private readonly DistributedApplicationOptions _options;

    private DistributedApplicationBuilder(DistributedApplicationOptions options, Assembly appHostAssembly)
    {
        _options = options;
        AppHostAssembly = appHostAssembly;
        var configuration = new ConfigurationBuilder()
            .AddEnvironmentVariables()
            .AddCommandLine(options.Args)
            .AddInMemoryCollection(options.Configuration)
            .Build();
        Configuration = configuration;
        var publisher = configuration["publisher"];
        ExecutionContext = new DistributedApplicationExecutionContext(!string.IsNullOrEmpty(publisher), publisher, configuration["output-path"]);
        AppHostDirectory = ReadMetadata(appHostAssembly, AppHostMetadata.ProjectDirectory)
            ?? throw new InvalidOperationException($"{appHostAssembly.GetName().Name} has no {AppHostMetadata.ProjectDirectory} metadata; is it an AppHost project?");
    }

    public static DistributedApplicationBuilder Create(string[] args) =>
        new(new DistributedApplicationOptions { Args = args }, Assembly.GetEntryAssembly()!);

    public static DistributedApplicationBuilder Create(DistributedApplicationOptions options, Assembly appHostAssembly) =>
        new(options, appHostAssembly);

    public Assembly AppHostAssembly { get; }
    public DistributedApplicationExecutionContext ExecutionContext { get; }
    public IConfiguration Configuration { get; }
    public string AppHostDirectory { get; }
    public IReadOnlyList<Resource> Resources => _resources;

    public ResourceBuilder<T> AddResource<T>(T resource) where T : Resource
    {
        if (_resources.Any(r => r.Name == resource.Name))
        {
            throw new InvalidOperationException($"A resource named '{resource.Name}' already exists.");
        }
        _resources.Add(resource);
        return new ResourceBuilder<T>(this, resource);
    }

    public DistributedApplication Build()
    {
        ValidateNoWaitCycles();
        return new DistributedApplication(this, _options);
    }

    internal static string? ReadMetadata(Assembly assembly, string key) =>
        assembly.GetCustomAttributes<AssemblyMetadataAttribute>().FirstOrDefault(a => a.Key == key)?.Value;

    private void ValidateNoWaitCycles()
    {
        var visiting = new HashSet<Resource>();
        var done = new HashSet<Resource>();
        void Visit(Resource resource)
        {
            if (done.Contains(resource))
            {
                return;
            }
            if (!visiting.Add(resource))
            {
                throw new InvalidOperationException($"Resources wait for each other in a cycle through '{resource.Name}'.");
            }
            foreach (var dependency in resource.WaitsFor)
            {
                Visit(dependency);
            }
            visiting.Remove(resource);
            done.Add(resource);
        }
        foreach (var resource in _resources)
        {
            Visit(resource);
        }
    }
}

/// <summary>The model's vocabulary, named as in Aspire so an AppHost reads the same.</summary>
public static class DistributedApplicationBuilderExtensions
{
    public static ResourceBuilder<ParameterResource> AddParameter(this IDistributedApplicationBuilder builder, string name, bool secret) =>
        builder.AddResource(new ParameterResource(name, secret));

    /// <summary>A parameter with a constant default (e.g. an optional API key that defaults to empty).</summary>
    public static ResourceBuilder<ParameterResource> AddParameter(this IDistributedApplicationBuilder builder, string name, bool secret, string defaultValue) =>
        builder.AddResource(new ParameterResource(name, secret) { DefaultValue = defaultValue });

    /// <summary>The parameter's run-mode value: configuration <c>Parameters:{name}</c>, else its default.</summary>
    public static string? GetParameterValue(this IDistributedApplicationBuilder builder, ParameterResource parameter) =>
        builder.Configuration[parameter.ConfigurationKey] is { Length: > 0 } configured ? configured : parameter.DefaultValue;

    public static ResourceBuilder<RedisResource> AddRedis(this IDistributedApplicationBuilder builder, string name)
    {
        var password = builder.AddParameter($"{name}-password", secret: true);
        return builder.AddResource(new RedisResource(name, password.Resource));
    }

    public static ResourceBuilder<PostgresServerResource> AddPostgres(this IDistributedApplicationBuilder builder, string name)
    {
        var password = builder.AddParameter($"{name}-password", secret: true);
        return builder.AddResource(new PostgresServerResource(name, password.Resource));
    }

    /// <summary>Adds a .NET project by its path relative to the AppHost project's folder.</summary>
    public static ResourceBuilder<ProjectResource> AddProject(this IDistributedApplicationBuilder builder, string name, string projectPath)
    {
        var fullPath = Path.GetFullPath(Path.Combine(builder.AppHostDirectory, projectPath));
        return builder.AddResource(new ProjectResource(name, fullPath));
    }
}
