namespace Aspire.Hosting.ApplicationModel;

/// <summary>
/// A database on a <see cref="LocalPostgresServerResource"/>, created when the server is ready. It has no process
/// of its own, so its Running and Healthy states are published by the server's extension (a child only inherits
/// its parent's state when the parent is a container), which is what lets projects <c>WaitFor</c> it.
/// </summary>
/// <param name="name">The resource name, which is also the connection string name.</param>
/// <param name="databaseName">The database's name on the server.</param>
/// <param name="parent">The server.</param>
public sealed class LocalPostgresDatabaseResource(string name, string databaseName, LocalPostgresServerResource parent)
    : Resource(name), IResourceWithParent<LocalPostgresServerResource>, IResourceWithConnectionString
{
    /// <summary>The server the database lives on.</summary>
    public LocalPostgresServerResource Parent { get; } = parent;

    /// <summary>The database's name on the server.</summary>
    public string DatabaseName { get; } = databaseName;

    /// <summary>The connection string, once the database exists (the health check's).</summary>
    internal string? ResolvedConnectionString { get; set; }

    /// <summary>The server's connection string with <c>Database=</c> this database.</summary>
    public ReferenceExpression ConnectionStringExpression =>
        ReferenceExpression.Create($"{Parent};Database={DatabaseName}");
}
