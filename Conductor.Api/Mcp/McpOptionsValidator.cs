using Microsoft.Extensions.Options;

namespace Conductor.Api.Mcp;

/// <summary>Refuses to start with MCP limits that make no sense.</summary>
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
