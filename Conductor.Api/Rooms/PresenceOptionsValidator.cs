using Microsoft.Extensions.Options;

namespace Conductor.Api.Rooms;

internal sealed class PresenceOptionsValidator : IValidateOptions<PresenceOptions>
{
    public ValidateOptionsResult Validate(string? name, PresenceOptions options) =>
        options.Ttl >= TimeSpan.FromSeconds(1) && options.Ttl <= TimeSpan.FromHours(1)
            ? ValidateOptionsResult.Success
            : ValidateOptionsResult.Fail($"Presence:Ttl must be between 1 second and 1 hour (got {options.Ttl}).");
}
