using System.Threading.RateLimiting;
using Conductor.Api.Auth;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.Options;
using RedisRateLimiting;
using StackExchange.Redis;

namespace Conductor.Api.Mcp;

/// <summary>
/// Per-user fixed window on <c>/mcp</c> shared by every Api instance (RedisRateLimiting: the window's count lives in
/// Redis, so a user's agents spread over instances share one budget), answering 429 with Retry-After in problem details
/// of its own. Requests without a user are refused by authorisation, unlimited here.
/// </summary>
internal sealed class McpRateLimitPolicy(IOptions<McpOptions> options, IConnectionMultiplexer redis) : IRateLimiterPolicy<string>
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
        return RedisRateLimitPartition.GetFixedWindowRateLimiter("mcp:" + userId.ToString("D"), _ => new RedisFixedWindowRateLimiterOptions
        {
            ConnectionMultiplexerFactory = () => redis,
            PermitLimit = limits.PermitLimit,
            Window = limits.Window,
        });
    }
}
