namespace Conductor.Hosting.ApplicationModel;

/// <summary>The fluent handle the AppHost's model code uses, as <c>IResourceBuilder&lt;T&gt;</c> in Aspire.</summary>
public sealed class ResourceBuilder<T>(IDistributedApplicationBuilder application, T resource) where T : Resource
{
    public IDistributedApplicationBuilder ApplicationBuilder { get; } = application;
    public T Resource { get; } = resource;

    /// <summary>Start only after <paramref name="dependency"/> reports healthy.</summary>
    public ResourceBuilder<T> WaitFor<TOther>(ResourceBuilder<TOther> dependency) where TOther : Resource
    {
        // A database is healthy when its server is, so waiting for it waits for the server too.
        if (!Resource.WaitsFor.Contains(dependency.Resource))
        {
            Resource.WaitsFor.Add(dependency.Resource);
        }
        return this;
    }
}

public static class ResourceBuilderExtensions
{
    public static ResourceBuilder<PostgresDatabaseResource> AddDatabase(this ResourceBuilder<PostgresServerResource> server, string name, string? databaseName = null)
    {
        var database = new PostgresDatabaseResource(name, databaseName ?? name, server.Resource);
        server.Resource.Databases.Add(database);
        var builder = server.ApplicationBuilder.AddResource(database);
        builder.WaitFor(server);
        return builder;
    }

    /// <summary>Hands the project <c>ConnectionStrings__{name}</c>.</summary>
    public static ResourceBuilder<ProjectResource> WithReference<TSource>(this ResourceBuilder<ProjectResource> project, ResourceBuilder<TSource> source)
        where TSource : Resource, IResourceWithConnectionString
    {
        project.Resource.ConnectionStringReferences.Add(source.Resource);
        return project;
    }

    /// <summary>Hands the project the other project's URLs as <c>services__{name}__{endpoint}__0</c>.</summary>
    public static ResourceBuilder<ProjectResource> WithReference(this ResourceBuilder<ProjectResource> project, ResourceBuilder<ProjectResource> service)
    {
        project.Resource.ServiceReferences.Add(service.Resource);
        return project;
    }

    public static ResourceBuilder<ProjectResource> WithExternalHttpEndpoints(this ResourceBuilder<ProjectResource> project)
    {
        foreach (var endpoint in project.Resource.Endpoints)
        {
            endpoint.IsExternal = true;
        }
        return project;
    }

    /// <summary>Prefers <paramref name="port"/> for the local http endpoint (falling back to a free port when taken).</summary>
    public static ResourceBuilder<ProjectResource> WithHttpEndpoint(this ResourceBuilder<ProjectResource> project, int port)
    {
        project.Resource.Endpoints.Single(e => e.Name == "http").Port = port;
        return project;
    }

    public static ResourceBuilder<ProjectResource> WithEnvironment(this ResourceBuilder<ProjectResource> project, string name, string value)
    {
        project.Resource.Environment[name] = value;
        return project;
    }

    /// <summary>In run mode, sets <paramref name="name"/> to <c>{data directory}/{subfolder}</c> (created); see <see cref="ProjectResource.DataDirectoryEnvironment"/>.</summary>
    public static ResourceBuilder<ProjectResource> WithDataDirectoryEnvironment(this ResourceBuilder<ProjectResource> project, string name, string subfolder)
    {
        project.Resource.DataDirectoryEnvironment[name] = subfolder;
        return project;
    }

    /// <summary>Hands the project a parameter's value (a secret stays out of the manifest: it holds an expression).</summary>
    public static ResourceBuilder<ProjectResource> WithEnvironment(this ResourceBuilder<ProjectResource> project, string name,
        ResourceBuilder<ParameterResource> parameter)
    {
        project.Resource.ParameterEnvironment[name] = parameter.Resource;
        return project;
    }

    public static ResourceBuilder<ProjectResource> WithHttpHealthCheck(this ResourceBuilder<ProjectResource> project, string path)
    {
        project.Resource.HealthCheckPath = path;
        return project;
    }
}
