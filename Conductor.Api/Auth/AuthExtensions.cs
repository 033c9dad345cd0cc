using System.Threading.RateLimiting;
using Conductor.Api.Auth.GitHub;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.BearerToken;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.DataProtection.KeyManagement;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Conductor.Api.Auth;

public static class AuthExtensions
{
    /// <summary>The one Data Protection application name: every instance must share it to share the key ring.</summary>
    public const string DataProtectionApplicationName = "Conductor";

    /// <summary>
    /// Bearer tokens (Data Protection, key ring in Postgres), refresh tokens, GitHub sign-in, the fallback policy
    /// that makes every endpoint require a signed-in user unless it opts out, and the /auth rate limit.
    /// Call after <c>AddConductorMigrations</c>: the key-ring initialiser needs the schema.
    /// </summary>
    public static WebApplicationBuilder AddConductorAuth(this WebApplicationBuilder builder)
    {
        var services = builder.Services;
        services.TryAddSingleton(TimeProvider.System);
        services.AddOptions<AuthOptions>().Bind(builder.Configuration.GetSection(AuthOptions.SectionName)).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<AuthOptions>, AuthOptionsValidator>());

        services.AddDataProtection().SetApplicationName(DataProtectionApplicationName);
        services.AddSingleton<PostgresXmlRepository>();
        services.AddOptions<KeyManagementOptions>()
            .Configure<PostgresXmlRepository>((options, repository) => options.XmlRepository = repository);
        services.AddHostedService<DataProtectionKeyInitializer>();

        services.AddAuthentication(BearerTokenDefaults.AuthenticationScheme)
            .AddBearerToken(BearerTokenDefaults.AuthenticationScheme, options =>
            {
                // Access tokens come only in the Authorization header. Browsers cannot set headers on WebSockets, so a
                // socket request may carry a single-use ticket in its query instead (POST /auth/socket-ticket); such a
                // request is handed to the ticket scheme, and a token put in a URL is never read.
                options.ForwardDefaultSelector = context =>
                    SocketTicketDefaults.FindTicket(context.Request) is not null ? SocketTicketDefaults.AuthenticationScheme : null;
            })
            .AddScheme<AuthenticationSchemeOptions, SocketTicketHandler>(SocketTicketDefaults.AuthenticationScheme, _ => { });
        services.AddSingleton<SocketTickets>();
        services.AddSingleton<SessionRevocations>();
        services.AddSingleton<SessionConnections>();
        services.AddHostedService<SessionRevocationListener>();
        // PostConfigure: wraps the protector the bearer scheme configured for itself (keyed by the shared key ring).
        services.AddOptions<BearerTokenOptions>(BearerTokenDefaults.AuthenticationScheme)
            .PostConfigure<SessionRevocations>((bearer, revocations) =>
                bearer.BearerTokenProtector = new RevocationCheckingTicketFormat(bearer.BearerTokenProtector, revocations));
        services.AddOptions<BearerTokenOptions>(BearerTokenDefaults.AuthenticationScheme)
            .Configure<IOptions<AuthOptions>>((bearer, auth) =>
            {
                bearer.BearerTokenExpiration = auth.Value.AccessTokenLifetime;
                bearer.RefreshTokenExpiration = auth.Value.RefreshTokenLifetime;
            });

        services.AddAuthorizationBuilder()
            .SetFallbackPolicy(new AuthorizationPolicyBuilder(BearerTokenDefaults.AuthenticationScheme).RequireAuthenticatedUser().Build());

        services.AddRateLimiter(options =>
        {
            options.AddPolicy(AuthApi.RateLimitPolicy, context =>
            {
                var limits = context.RequestServices.GetRequiredService<IOptions<AuthOptions>>().Value.RateLimit;
                var partition = context.User.Identity?.IsAuthenticated == true
                    ? "user:" + context.User.FindFirst(UserClaims.UserId)?.Value
                    : "ip:" + context.Connection.RemoteIpAddress;
                return RateLimitPartition.GetFixedWindowLimiter(partition, _ => new FixedWindowRateLimiterOptions
                {
                    PermitLimit = limits.PermitLimit,
                    Window = limits.Window,
                    QueueLimit = 0,
                });
            });
            options.OnRejected = (context, _) => ApiProblems.WriteRateLimitedAsync(context, "Too many requests",
                "Too many sign-in requests from this client; wait before trying again.");
        });

        services.AddSingleton<UserStore>();
        services.AddSingleton<TokenService>();
        services.AddSingleton<GitHubTokenStore>();
        services.AddSingleton<IGitHubTokenStore>(sp => sp.GetRequiredService<GitHubTokenStore>());
        // Transient like the typed GitHubClient it holds, so the client's pooled handler rotates.
        services.AddTransient<GitHubSignIn>();
        services.AddHttpClient<GitHubClient>(http =>
        {
            // GitHub rejects API requests without a User-Agent.
            http.DefaultRequestHeaders.UserAgent.ParseAdd("Conductor");
            http.Timeout = Timeout.InfiniteTimeSpan; // GitHubClient applies Auth:GitHub:Timeout per call
        });
        return builder;
    }

    public static WebApplication UseConductorAuth(this WebApplication app)
    {
        app.UseAuthentication();
        app.UseAuthorization();
        // After authentication, so signed-in callers are limited per user rather than per shared IP.
        app.UseRateLimiter();
        return app;
    }
}
