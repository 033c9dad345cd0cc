using Conductor.LocalServers;

namespace Aspire.Hosting.ApplicationModel;

/// <summary>
/// A PostgreSQL cluster run by DCP as a local process (no container runtime needed): initialised in
/// <see cref="DataDirectory"/> on first use, run as the <c>postgres</c> OS user when the AppHost is root.
/// </summary>
/// <param name="name">The resource name, which is also the connection string name.</param>
/// <param name="dataDirectory">Where the cluster lives.</param>
/// <param name="password">The superuser's password.</param>
public sealed class LocalPostgresServerResource(string name, string dataDirectory, ParameterResource password)
    : ExecutableResource(name, "postgres", dataDirectory), IResourceWithConnectionString
{
    internal const string PrimaryEndpointName = "tcp";
    internal const string UserName = "postgres";

    private readonly Dictionary<string, string> _databases = new(StringComparer.OrdinalIgnoreCase);
    private EndpointReference? _primaryEndpoint;

    /// <summary>The folder holding the cluster.</summary>
    public string DataDirectory { get; } = dataDirectory;

    /// <summary>The parameter that holds the superuser's password.</summary>
    public ParameterResource PasswordParameter { get; } = password;

    /// <summary>The TCP endpoint the server listens on (127.0.0.1, not proxied).</summary>
    public EndpointReference PrimaryEndpoint => _primaryEndpoint ??= new(this, PrimaryEndpointName);

    /// <summary>Database resources by resource name, with the database each creates.</summary>
    public IReadOnlyDictionary<string, string> Databases => _databases;

    /// <summary>The command <see cref="LocalPostgresServer.PrepareAsync"/> returned; set before DCP starts the server.</summary>
    internal ServerCommand? Prepared { get; set; }

    /// <summary>Npgsql form, as Aspire's Postgres resource writes it (no database).</summary>
    public ReferenceExpression ConnectionStringExpression =>
        ReferenceExpression.Create($"Host=127.0.0.1;Port={PrimaryEndpoint.Property(EndpointProperty.Port)};Username={UserName};Password={PasswordParameter}");

    internal void AddDatabase(string name, string databaseName) => _databases.TryAdd(name, databaseName);
}
