using Microsoft.Extensions.Options;

namespace Conductor.Api.Rooms;

/// <summary>
/// The web app reaches the Api through Conductor.Web's <c>/api</c> proxy (same origin, no CORS needed). For browser
/// clients served from elsewhere the Api answers CORS for the web app's origin (<c>Web:PublicUrl</c>, or the AppHost's <c>services__web__http__0</c>)
/// and for any extra origins in <c>Web:AllowedOrigins</c>. Tokens travel in the Authorization header, never in
/// cookies, so credentials are not allowed.
/// </summary>
public static class WebOrigins
{
    public const string PolicyName = "web";

    public static IHostApplicationBuilder AddWebOriginCors(this IHostApplicationBuilder builder)
    {
        builder.Services.AddCors();
        builder.Services.AddOptions<Microsoft.AspNetCore.Cors.Infrastructure.CorsOptions>()
            .Configure<IOptions<WebOptions>, IConfiguration>((cors, web, configuration) =>
            {
                var origins = (configuration.GetSection("Web:AllowedOrigins").Get<string[]>() ?? [])
                    .Append(web.Value.PublicUrl?.GetLeftPart(UriPartial.Authority))
                    .OfType<string>()
                    .Select(origin => origin.TrimEnd('/'))
                    .Distinct(StringComparer.OrdinalIgnoreCase)
                    .ToArray();
                cors.AddPolicy(PolicyName, policy => policy
                    .WithOrigins(origins)
                    .AllowAnyHeader()
                    .AllowAnyMethod()
                    .WithExposedHeaders("ETag", "Location", "Retry-After")
                    .SetPreflightMaxAge(TimeSpan.FromMinutes(10)));
            });
        return builder;
    }
}
