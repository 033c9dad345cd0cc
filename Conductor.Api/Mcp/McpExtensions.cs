using System.Text.Json;
using Microsoft.Extensions.Options;

namespace Conductor.Api.Mcp;

/// <summary>Registers the MCP server, its options, its call log and its rate limit.</summary>
public static class McpExtensions
{
    public const string RateLimitPolicy = "mcp";

    /// <summary>
    /// The MCP server (ModelContextProtocol.AspNetCore): streamable HTTP, stateless, so any Api instance answers any
    /// request and each request runs as the user of its own bearer token.
    /// </summary>
    public static IHostApplicationBuilder AddConductorMcp(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<McpOptions>().Bind(builder.Configuration.GetSection(McpOptions.Section)).ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<McpOptions>, McpOptionsValidator>();
        builder.Services.AddSingleton<McpCallLog>();
        builder.Services.AddRateLimiter(options => options.AddPolicy<string, McpRateLimitPolicy>(RateLimitPolicy));
        builder.Services.AddMcpServer(server => server.ServerInfo = new() { Name = "Conductor", Version = "1.0" })
            .WithHttpTransport(transport => transport.Stateless = true)
            .WithTools<ConductorMcpTools>(ToolJson);
        return builder;
    }

    /// <summary>The SDK's options (its protocol types) with the Api's snake_case for the tools' arguments and results.</summary>
    private static readonly JsonSerializerOptions ToolJson = new(ModelContextProtocol.McpJsonUtilities.DefaultOptions)
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        TypeInfoResolver = System.Text.Json.Serialization.Metadata.JsonTypeInfoResolver.Combine(
            ModelContextProtocol.McpJsonUtilities.DefaultOptions.TypeInfoResolver, new System.Text.Json.Serialization.Metadata.DefaultJsonTypeInfoResolver()),
    };
}
