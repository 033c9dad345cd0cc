namespace Conductor.Api.Mcp;

/// <summary><c>Mcp:</c> limits of the MCP server at <c>/mcp</c> (docs/mcp.md).</summary>
public sealed class McpOptions
{
    public const string Section = "Mcp";

    /// <summary>MCP requests per user per <see cref="Window"/> (every JSON-RPC message is one request).</summary>
    public int PermitLimit { get; set; } = 120;
    public TimeSpan Window { get; set; } = TimeSpan.FromMinutes(1);
    /// <summary>Characters of a file <c>read_file</c> returns; longer files are cut and say so.</summary>
    public int MaxFileChars { get; set; } = 200_000;
    public int MaxSearchResults { get; set; } = 200;
}
