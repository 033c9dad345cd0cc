using System.Text.Json;
using System.Threading.RateLimiting;
using Conductor.Api.Auth;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.Options;

namespace Conductor.Api.Mcp;

public static class McpSetup
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

    public static IEndpointConventionBuilder MapConductorMcp(this IEndpointRouteBuilder endpoints) =>
        endpoints.MapMcp("/mcp").WithTags("MCP").RequireAuthorization().RequireRateLimiting(RateLimitPolicy).ExcludeFromDescription();
}

/// <summary>Per-user fixed window on <c>/mcp</c>, answering 429 with Retry-After in problem details of its own.</summary>
internal sealed class McpRateLimitPolicy(IOptions<McpOptions> options) : IRateLimiterPolicy<string>
{
    public Func<OnRejectedContext, CancellationToken, ValueTask>? OnRejected { get; } = async (context, cancellationToken) =>
    {
        var http = context.HttpContext;
        http.Response.StatusCode = StatusCodes.Status429TooManyRequests;
        if (context.Lease.TryGetMetadata(MetadataName.RetryAfter, out var retryAfter))
        {
            http.Response.Headers.RetryAfter = ((int)Math.Ceiling(retryAfter.TotalSeconds)).ToString(System.Globalization.CultureInfo.InvariantCulture);
        }
        await http.RequestServices.GetRequiredService<IProblemDetailsService>().WriteAsync(new ProblemDetailsContext
        {
            HttpContext = http,
            ProblemDetails =
            {
                Status = StatusCodes.Status429TooManyRequests,
                Title = "Too many MCP requests",
                Detail = "This user's agents sent too many MCP requests; wait before trying again.",
                Extensions = { ["code"] = "rate_limited" },
            },
        });
    };

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
