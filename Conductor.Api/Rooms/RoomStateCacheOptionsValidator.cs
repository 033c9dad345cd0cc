using Microsoft.Extensions.Options;

namespace Conductor.Api.Rooms;

internal sealed class RoomStateCacheOptionsValidator : IValidateOptions<RoomStateCacheOptions>
{
    public ValidateOptionsResult Validate(string? name, RoomStateCacheOptions options) =>
        options.Lifetime > TimeSpan.Zero && options.Lifetime <= TimeSpan.FromMinutes(5)
            ? ValidateOptionsResult.Success
            : ValidateOptionsResult.Fail($"Rooms:StateCache:Lifetime must be positive and at most 5 minutes (got {options.Lifetime}).");
}
