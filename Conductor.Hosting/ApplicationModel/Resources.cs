namespace Conductor.Hosting.ApplicationModel;

/// <summary>Something the AppHost runs or points at, named as in Aspire's app model and its manifest.</summary>
public abstract class Resource(string name)
{
    public string Name { get; } = ValidateName(name);

    /// <summary>What the dashboard shows as the resource's type.</summary>
    public abstract string Type { get; }

    /// <summary>Resources that must be healthy before this one starts (Aspire's WaitFor).</summary>
    public List<Resource> WaitsFor { get; } = [];

    private static string ValidateName(string name)
    {
        if (string.IsNullOrWhiteSpace(name) || !name.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c == '-'))
        {
            throw new ArgumentException($"Resource name '{name}' must be lower-case letters, digits and hyphens.", nameof(name));
        }
        return name;
    }

    public override string ToString() => $"{Type} {Name}";
}

/// <summary>A resource that others reference by connection string (<c>ConnectionStrings__{name}</c>).</summary>
public interface IResourceWithConnectionString
{
    string Name { get; }

    /// <summary>The manifest expression that yields the connection string at deployment.</summary>
    string ConnectionStringExpression { get; }
}

/// <summary>
/// A value chosen at deployment (Aspire's <c>parameter.v0</c>): either generated (passwords) or with a constant
/// default. In run mode its value comes from configuration <c>Parameters:{name}</c>, as in Aspire (environment
/// <c>Parameters__{name}</c> or user secrets), else the default.
/// </summary>
public sealed class ParameterResource(string name, bool secret, int generatedLength = 22) : Resource(name)
{
    public override string Type => "parameter";
    public bool Secret { get; } = secret;
    public int GeneratedLength { get; } = generatedLength;

    /// <summary>A constant default instead of a generated one; azd then asks for nothing.</summary>
    public string? DefaultValue { get; init; }

    public string ConfigurationKey => $"Parameters:{Name}";
}

/// <summary>Redis: a local redis-server in run mode, the official image in the manifest.</summary>
public sealed class RedisResource(string name, ParameterResource password) : Resource(name), IResourceWithConnectionString
{
    public const int TargetPort = 6379;
    public const string Image = "docker.io/library/redis";
    public const string ImageTag = "7.4";

    public override string Type => "redis";
    public ParameterResource Password { get; } = password;

    public string ConnectionStringExpression =>
        $"{{{Name}.bindings.tcp.host}}:{{{Name}.bindings.tcp.port}},password={{{Password.Name}.value}}";
}

/// <summary>A Postgres server: a local cluster in run mode, the official image in the manifest.</summary>
public sealed class PostgresServerResource(string name, ParameterResource password) : Resource(name), IResourceWithConnectionString
{
    public const int TargetPort = 5432;
    public const string Image = "docker.io/library/postgres";
    public const string ImageTag = "17.6";
    public const string UserName = "postgres";

    public override string Type => "postgres";
    public ParameterResource Password { get; } = password;
    public List<PostgresDatabaseResource> Databases { get; } = [];

    public string ConnectionStringExpression =>
        $"Host={{{Name}.bindings.tcp.host}};Port={{{Name}.bindings.tcp.port}};Username={UserName};Password={{{Password.Name}.value}}";
}

/// <summary>A database in a Postgres server (<c>value.v0</c> in the manifest), created on start in run mode.</summary>
public sealed class PostgresDatabaseResource(string name, string databaseName, PostgresServerResource server) : Resource(name), IResourceWithConnectionString
{
    public override string Type => "postgres.database";
    public string DatabaseName { get; } = databaseName;
    public PostgresServerResource Server { get; } = server;
    public string ConnectionStringExpression => $"{{{Server.Name}.connectionString}};Database={DatabaseName}";
}

/// <summary>An HTTP endpoint of a project.</summary>
public sealed record EndpointAnnotation(string Name, string Scheme)
{
    /// <summary>Reachable from outside the deployment (a public ingress in Azure Container Apps).</summary>
    public bool IsExternal { get; set; }
    /// <summary>Preferred local port in run mode; a free one is used when it is taken or not set.</summary>
    public int? Port { get; set; }
}

/// <summary>A .NET project run from its build output in run mode, and deployed as <c>project.v0</c>.</summary>
public sealed class ProjectResource(string name, string projectPath) : Resource(name)
{
    public override string Type => "project";

    /// <summary>Absolute path of the .csproj.</summary>
    public string ProjectPath { get; } = projectPath;

    public List<EndpointAnnotation> Endpoints { get; } = [new("http", "http")];
    public List<IResourceWithConnectionString> ConnectionStringReferences { get; } = [];
    public List<ProjectResource> ServiceReferences { get; } = [];

    /// <summary>Extra variables: literal values, written to the manifest as they are.</summary>
    public Dictionary<string, string> Environment { get; } = new(StringComparer.Ordinal);

    /// <summary>Variables whose value is a parameter's (<c>{name.value}</c> in the manifest); unset in run mode when empty.</summary>
    public Dictionary<string, ParameterResource> ParameterEnvironment { get; } = new(StringComparer.Ordinal);

    /// <summary>
    /// Variables set, in run mode only, to a folder under the AppHost's data directory (name → subfolder); a
    /// deployment has no such folder and must configure its own (a shared volume). Not written to the manifest.
    /// </summary>
    public Dictionary<string, string> DataDirectoryEnvironment { get; } = new(StringComparer.Ordinal);

    /// <summary>The path probed for health before dependants start.</summary>
    public string HealthCheckPath { get; set; } = "/health";
}
