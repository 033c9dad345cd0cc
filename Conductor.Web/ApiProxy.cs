using Yarp.ReverseProxy.Configuration;
using Yarp.ReverseProxy.Transforms;

namespace Conductor.Web;

/// <summary>
/// Forwards <c>/api/**</c> to the Api (HTTP, WebSocket upgrades, SSE and SignalR alike), so the browser talks to one
/// origin and never needs CORS. The destination is the logical address <c>http://api</c>, resolved by service
/// discovery from <c>services__api__http__0</c> (Aspire sets it; tests set it by hand).
/// </summary>
public static class ApiProxy
{
    public const string RoutePrefix = "/api";
    private const string ClusterId = "api";

    public static IHostApplicationBuilder AddApiProxy(this IHostApplicationBuilder builder)
    {
        var route = new RouteConfig
        {
            RouteId = "api",
            ClusterId = ClusterId,
            Match = new RouteMatch { Path = RoutePrefix + "/{**rest}" },
        }
        .WithTransformPathRemovePrefix(RoutePrefix);

        var cluster = new ClusterConfig
        {
            ClusterId = ClusterId,
            Destinations = new Dictionary<string, DestinationConfig>
            {
                ["api"] = new() { Address = "http://api" },
            },
            HttpRequest = new Yarp.ReverseProxy.Forwarder.ForwarderRequestConfig
            {
                // SSE answers (AI token streams, job progress) and long polls may stay open for minutes.
                ActivityTimeout = TimeSpan.FromMinutes(10),
            },
        };

        builder.Services.AddReverseProxy()
            .LoadFromMemory([route], [cluster])
            .AddServiceDiscoveryDestinationResolver();
        return builder;
    }
}
