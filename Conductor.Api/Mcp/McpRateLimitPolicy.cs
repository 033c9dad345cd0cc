using System.Threading.RateLimiting;
using Conductor.Api.Auth;
using Conductor.Api.Chat;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.Options;

namespace Conductor.Api.Mcp;

/// <summary>
/// Per-user token bucket on <c>/mcp</c> shared by every Api instance (Redis: <see cref="McpUserRateLimiter"/>), answering
/// 429 with Retry-After in problem details of its own. Requests without a user are refused by authorisation, unlimited here.
/// </summary>
internal sealed class McpRateLimitPolicy(IOptions<McpOptions> options, ChatRateLimiter buckets) : IRateLimiterPolicy<string>
{
    public Func<OnRejectedContext, CancellationToken, ValueTask>? OnRejected { get; } = (context, _) =>
        ApiProblems.WriteRateLimitedAsync(context, "Too many MCP requests", "This user's agents sent too many MCP requests; wait before trying again.");

    public RateLimitPartition<string> GetPartition(HttpContext httpContext)
    {
        var limits = options.Value;
        if (!Guid.TryParse(httpContext.User.FindFirst(UserClaims.UserId)?.Value, out var userId))
        {
            return RateLimitPartition.GetNoLimiter("anonymous");
        }
        return RateLimitPartition.Get(userId.ToString("D"), _ => new McpUserRateLimiter(buckets, userId, limits.PermitLimit, limits.Window));
    }
}
