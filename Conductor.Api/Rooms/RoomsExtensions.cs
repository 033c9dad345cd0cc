using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Conductor.Api.Rooms;

public static class RoomsExtensions
{
    /// <summary>Rooms, membership (<see cref="IRoomMembership"/>), invites, presence and membership events.</summary>
    public static WebApplicationBuilder AddConductorRooms(this WebApplicationBuilder builder)
    {
        var services = builder.Services;
        services.TryAddSingleton(TimeProvider.System);
        services.AddOptions<InviteOptions>().Bind(builder.Configuration.GetSection(InviteOptions.SectionName)).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<InviteOptions>, InviteOptionsValidator>());
        services.AddOptions<PresenceOptions>().Bind(builder.Configuration.GetSection(PresenceOptions.SectionName)).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<PresenceOptions>, PresenceOptionsValidator>());
        services.AddOptions<WebOptions>().Bind(builder.Configuration.GetSection(WebOptions.SectionName)).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IPostConfigureOptions<WebOptions>, WebOptionsSetup>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<WebOptions>, WebOptionsValidator>());

        services.AddSingleton<RoomStore>();
        services.AddSingleton<IRoomMembership, RoomMembership>();
        services.AddSingleton<InviteTokenCodec>();
        services.AddSingleton<RoomEventPublisher>();
        services.AddSingleton<IPresence, RedisPresence>();
        return builder;
    }
}
