using Conductor.LocalServers;

namespace Aspire.Hosting.ApplicationModel;

/// <summary>
/// A redis-server run by DCP as a local process (no container runtime needed), with its data and configuration in
/// <see cref="DataDirectory"/>. The password lives in a 0600 configuration file, never on the command line.
/// </summary>
/// <param name="name">The resource name, which is also the connection string name.</param>
/// <param name="dataDirectory">Where the configuration, the append-only file and the snapshots live.</param>
/// <param name="password">The server's password.</param>
public sealed class LocalRedisResource(string name, string dataDirectory, ParameterResource password)
    : ExecutableResource(name, "redis-server", dataDirectory), IResourceWithConnectionString
{
    internal const string PrimaryEndpointName = "tcp";

    private EndpointReference? _primaryEndpoint;

    /// <summary>The folder holding the server's configuration and data.</summary>
    public string DataDirectory { get; } = dataDirectory;

    /// <summary>The parameter that holds the server's password.</summary>
    public ParameterResource PasswordParameter { get; } = password;

    /// <summary>The TCP endpoint the server listens on (127.0.0.1, not proxied).</summary>
    public EndpointReference PrimaryEndpoint => _primaryEndpoint ??= new(this, PrimaryEndpointName);

    /// <summary>The command <see cref="LocalRedisServer.PrepareAsync"/> returned; set before DCP starts the server.</summary>
    internal ServerCommand? Prepared { get; set; }

    /// <summary>StackExchange.Redis form, as Aspire's Redis resource writes it: <c>127.0.0.1:port,password=…</c>.</summary>
    public ReferenceExpression ConnectionStringExpression =>
        ReferenceExpression.Create($"127.0.0.1:{PrimaryEndpoint.Property(EndpointProperty.Port)},password={PasswordParameter}");
}
