using System.Threading.RateLimiting;
using Conductor.Api.Auth;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.Options;

namespace Conductor.Api.Mcp;

/// <summary>Per-user fixed window on <c>/mcp</c>, answering 429 with Retry-After in problem details of its own.</summary>
internal sealed class McpRateLimitPolicy(IOptions<McpOptions> options) : IRateLimiterPolicy<string>
{
    public Func<OnRejectedContext, CancellationToken, ValueTask>? OnRejected { get; } = (context, _) =>
        ApiProblems.WriteRateLimitedAsync(context, "Too many MCP requests", "This user's agents sent too many MCP requests; wait before trying again.");

    public RateLimitPartition<string> GetPartition(HttpContext httpContext)
    {
        var limits = options.Value;
        var user = httpContext.User.FindFirst(UserClaims.UserId)?.Value ?? "ip:" + httpContext.Connection.RemoteIpAddress;
        return RateLimitPartition.GetFixedWindowLimiter(user, _ => new FixedWindowRateLimiterOptions
        {
            PermitLimit = limits.PermitLimit,
            Window = limits.Window,
            QueueLimit = 0,
        });
    }
}
