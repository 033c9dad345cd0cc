using Microsoft.Extensions.Options;

namespace Conductor.Api.Rooms;

internal sealed class InviteOptionsValidator : IValidateOptions<InviteOptions>
{
    public ValidateOptionsResult Validate(string? name, InviteOptions options) =>
        options.MaxLifetime >= TimeSpan.FromSeconds(1) && options.Lifetime >= TimeSpan.FromSeconds(1) && options.Lifetime <= options.MaxLifetime
            ? ValidateOptionsResult.Success
            : ValidateOptionsResult.Fail("Rooms:Invites:Lifetime must be at least 1 second and at most Rooms:Invites:MaxLifetime.");
}
