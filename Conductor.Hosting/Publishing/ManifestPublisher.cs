using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using Conductor.Hosting.ApplicationModel;

namespace Conductor.Hosting.Publishing;

/// <summary>
/// Writes the model as an Aspire 8 manifest, the format azd reads: Redis and Postgres as <c>container.v0</c>
/// (whatever runs them locally), databases as <c>value.v0</c>, projects as <c>project.v0</c>, secrets as
/// <c>parameter.v0</c> with generated defaults. Output is deterministic, so the committed copy can be diffed.
/// </summary>
public static class ManifestPublisher
{
    public const string Schema = "https://json.schemastore.org/aspire-8.0.json";

    /// <param name="manifestDirectory">Project paths are written relative to it, as Aspire does.</param>
    public static string Write(IReadOnlyList<Resource> resources, string manifestDirectory)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions
        {
            Indented = true,
            Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping, // keeps '+' and quotes in expressions readable
        }))
        {
            json.WriteStartObject();
            json.WriteString("$schema", Schema);
            json.WriteStartObject("resources");
            foreach (var resource in resources)
            {
                json.WriteStartObject(resource.Name);
                switch (resource)
                {
                    case RedisResource redis: WriteRedis(json, redis); break;
                    case PostgresServerResource postgres: WritePostgres(json, postgres); break;
                    case PostgresDatabaseResource database: WriteDatabase(json, database); break;
                    case ProjectResource project: WriteProject(json, project, manifestDirectory); break;
                    case ParameterResource parameter: WriteParameter(json, parameter); break;
                    default: throw new NotSupportedException($"{resource.Type} resources cannot be published.");
                }
                json.WriteEndObject();
            }
            json.WriteEndObject();
            json.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.ToArray()).Replace("\r\n", "\n", StringComparison.Ordinal) + "\n";
    }

    private static void WriteRedis(Utf8JsonWriter json, RedisResource redis)
    {
        json.WriteString("type", "container.v0");
        json.WriteString("connectionString", redis.ConnectionStringExpression);
        json.WriteString("image", $"{RedisResource.Image}:{RedisResource.ImageTag}");
        // The password reaches redis-server through the environment, not argv of the container spec.
        json.WriteString("entrypoint", "/bin/sh");
        json.WriteStartArray("args");
        json.WriteStringValue("-c");
        json.WriteStringValue("redis-server --requirepass $REDIS_PASSWORD");
        json.WriteEndArray();
        json.WriteStartObject("env");
        json.WriteString("REDIS_PASSWORD", $"{{{redis.Password.Name}.value}}");
        json.WriteEndObject();
        WriteTcpBinding(json, RedisResource.TargetPort);
    }

    private static void WritePostgres(Utf8JsonWriter json, PostgresServerResource postgres)
    {
        json.WriteString("type", "container.v0");
        json.WriteString("connectionString", postgres.ConnectionStringExpression);
        json.WriteString("image", $"{PostgresServerResource.Image}:{PostgresServerResource.ImageTag}");
        json.WriteStartObject("env");
        json.WriteString("POSTGRES_HOST_AUTH_METHOD", "scram-sha-256");
        json.WriteString("POSTGRES_INITDB_ARGS", "--auth-host=scram-sha-256 --auth-local=scram-sha-256");
        json.WriteString("POSTGRES_USER", PostgresServerResource.UserName);
        json.WriteString("POSTGRES_PASSWORD", $"{{{postgres.Password.Name}.value}}");
        json.WriteEndObject();
        WriteTcpBinding(json, PostgresServerResource.TargetPort);
    }

    private static void WriteTcpBinding(Utf8JsonWriter json, int targetPort)
    {
        json.WriteStartObject("bindings");
        json.WriteStartObject("tcp");
        json.WriteString("scheme", "tcp");
        json.WriteString("protocol", "tcp");
        json.WriteString("transport", "tcp");
        json.WriteNumber("targetPort", targetPort);
        json.WriteEndObject();
        json.WriteEndObject();
    }

    private static void WriteDatabase(Utf8JsonWriter json, PostgresDatabaseResource database)
    {
        json.WriteString("type", "value.v0");
        json.WriteString("connectionString", database.ConnectionStringExpression);
    }

    private static void WriteProject(Utf8JsonWriter json, ProjectResource project, string manifestDirectory)
    {
        json.WriteString("type", "project.v0");
        json.WriteString("path", Path.GetRelativePath(manifestDirectory, project.ProjectPath).Replace('\\', '/'));
        json.WriteStartObject("env");
        json.WriteString("OTEL_DOTNET_EXPERIMENTAL_OTLP_EMIT_EXCEPTION_LOG_ATTRIBUTES", "true");
        json.WriteString("OTEL_DOTNET_EXPERIMENTAL_OTLP_EMIT_EVENT_LOG_ATTRIBUTES", "true");
        json.WriteString("OTEL_DOTNET_EXPERIMENTAL_OTLP_RETRY", "in_memory");
        json.WriteString("ASPNETCORE_FORWARDEDHEADERS_ENABLED", "true");
        json.WriteString("HTTP_PORTS", $"{{{project.Name}.bindings.http.targetPort}}");
        foreach (var reference in project.ConnectionStringReferences)
        {
            json.WriteString($"ConnectionStrings__{reference.Name}", $"{{{reference.Name}.connectionString}}");
        }
        foreach (var service in project.ServiceReferences)
        {
            foreach (var endpoint in service.Endpoints)
            {
                json.WriteString($"services__{service.Name}__{endpoint.Name}__0", $"{{{service.Name}.bindings.{endpoint.Name}.url}}");
            }
        }
        foreach (var (name, value) in project.Environment.OrderBy(e => e.Key, StringComparer.Ordinal))
        {
            json.WriteString(name, value);
        }
        foreach (var (name, parameter) in project.ParameterEnvironment.OrderBy(e => e.Key, StringComparer.Ordinal))
        {
            json.WriteString(name, $"{{{parameter.Name}.value}}");
        }
        json.WriteEndObject();
        json.WriteStartObject("bindings");
        foreach (var endpoint in project.Endpoints)
        {
            json.WriteStartObject(endpoint.Name);
            json.WriteString("scheme", endpoint.Scheme);
            json.WriteString("protocol", "tcp");
            json.WriteString("transport", "http");
            if (endpoint.IsExternal)
            {
                json.WriteBoolean("external", true);
            }
            json.WriteEndObject();
        }
        json.WriteEndObject();
    }

    private static void WriteParameter(Utf8JsonWriter json, ParameterResource parameter)
    {
        json.WriteString("type", "parameter.v0");
        json.WriteString("value", $"{{{parameter.Name}.inputs.value}}");
        json.WriteStartObject("inputs");
        json.WriteStartObject("value");
        json.WriteString("type", "string");
        if (parameter.Secret)
        {
            json.WriteBoolean("secret", true);
        }
        json.WriteStartObject("default");
        if (parameter.DefaultValue is { } constant)
        {
            json.WriteString("value", constant);
        }
        else
        {
            json.WriteStartObject("generate");
            json.WriteNumber("minLength", parameter.GeneratedLength);
            json.WriteBoolean("special", false);
            json.WriteEndObject();
        }
        json.WriteEndObject();
        json.WriteEndObject();
        json.WriteEndObject();
    }
}
