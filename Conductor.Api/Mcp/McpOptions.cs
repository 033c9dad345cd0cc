using Microsoft.Extensions.Options;

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

internal sealed class McpOptionsValidator : IValidateOptions<McpOptions>
{
    public ValidateOptionsResult Validate(string? name, McpOptions options)
    {
        var failures = new List<string>();
        if (options.PermitLimit < 1)
        {
            failures.Add("Mcp:PermitLimit must be at least 1.");
        }
        if (options.Window < TimeSpan.FromSeconds(1))
        {
            failures.Add("Mcp:Window must be at least 1 second.");
        }
        if (options.MaxFileChars < 1 || options.MaxSearchResults < 1)
        {
            failures.Add("Mcp:MaxFileChars and Mcp:MaxSearchResults must be positive.");
        }
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
