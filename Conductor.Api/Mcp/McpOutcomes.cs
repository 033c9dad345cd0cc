namespace Conductor.Api.Mcp;

/// <summary>How an MCP tool call ended, as <c>mcp_calls.outcome</c> records it.</summary>
public static class McpOutcomes
{
    public const string Ok = "ok";
    public const string Refused = "refused";
    public const string Failed = "failed";
}
