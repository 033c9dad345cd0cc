namespace Conductor.Api.Mcp;

/// <summary>
/// <c>/mcp</c>: the MCP server's streamable HTTP endpoint, for signed-in users only (the bearer token is the agent's
/// identity), rate limited per user. Its tools are in <see cref="ConductorMcpTools"/>.
/// </summary>
public static class McpApi
{
    public static IEndpointConventionBuilder MapMcpApi(this IEndpointRouteBuilder endpoints) =>
        endpoints.MapMcp("/mcp").WithTags("MCP").RequireAuthorization().RequireRateLimiting(McpExtensions.RateLimitPolicy).ExcludeFromDescription();
}
