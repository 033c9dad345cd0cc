using Microsoft.Extensions.Options;

namespace Conductor.Api.Rooms;

internal sealed class WebOptionsValidator : IValidateOptions<WebOptions>
{
    public ValidateOptionsResult Validate(string? name, WebOptions options) =>
        options.PublicUrl is null || (options.PublicUrl.IsAbsoluteUri && options.PublicUrl.Scheme is "http" or "https")
            ? ValidateOptionsResult.Success
            : ValidateOptionsResult.Fail("Web:PublicUrl must be an absolute http(s) URL.");
}
