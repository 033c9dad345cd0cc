using Microsoft.AspNetCore.StaticFiles;
using Microsoft.Net.Http.Headers;

namespace Conductor.Web;

/// <summary>Cache headers for the built app: Vite fingerprints everything under /assets, never index.html.</summary>
public static class ClientAppCaching
{
    /// <summary>Paths the browser app routes itself (ClientApp/src/ui/router.ts); a reload there gets the app shell.</summary>
    public static readonly string[] ClientRoutes = ["/rooms/{**rest}", "/join"];

    public static void Apply(StaticFileResponseContext context)
    {
        var headers = context.Context.Response.Headers;
        headers[HeaderNames.CacheControl] = context.Context.Request.Path.StartsWithSegments("/assets")
            ? "public, max-age=31536000, immutable"
            : "no-cache";
    }
}
