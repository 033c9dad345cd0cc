using Microsoft.Extensions.Options;

namespace Conductor.Api.Rooms;

internal sealed class WebOptionsSetup(IConfiguration configuration) : IPostConfigureOptions<WebOptions>
{
    public void PostConfigure(string? name, WebOptions options)
    {
        if (options.PublicUrl is null
            && (configuration["services:web:https:0"] ?? configuration["services:web:http:0"]) is { Length: > 0 } discovered
            && Uri.TryCreate(discovered, UriKind.Absolute, out var url))
        {
            options.PublicUrl = url;
        }
    }
}
