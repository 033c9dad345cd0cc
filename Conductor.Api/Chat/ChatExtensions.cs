using Conductor.Api.Chat;
using Microsoft.AspNetCore.SignalR;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.Hosting;

public static class ChatExtensions
{
    /// <summary>
    /// Registers chat: options (validated at start-up), the store, the service, Redis-backed typing, presence and rate
    /// limits, the fan-out (a hosted service) and SignalR with snake_case JSON and the frame limit. Needs Postgres,
    /// Redis, authentication and an <see cref="Conductor.Api.Rooms.IRoomMembership"/>.
    /// </summary>
    public static IHostApplicationBuilder AddConductorChat(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<ChatOptions>().Bind(builder.Configuration.GetSection(ChatOptions.SectionName))
            .ValidateDataAnnotations().ValidateOnStart();
        builder.Services.TryAddSingleton(TimeProvider.System);
        builder.Services.AddSingleton<ChatStore>();
        builder.Services.AddSingleton<ChatRateLimiter>();
        builder.Services.AddSingleton<ChatTyping>();
        builder.Services.AddSingleton<ChatPresence>();
        builder.Services.AddSingleton<HubRooms>();
        builder.Services.AddScoped<ChatService>();
        builder.Services.AddSingleton<ChatFanout>();
        builder.Services.AddHostedService(services => services.GetRequiredService<ChatFanout>());
        builder.Services.AddAuthorization();

        builder.Services.AddSignalR().AddJsonProtocol(json =>
            json.PayloadSerializerOptions.PropertyNamingPolicy = System.Text.Json.JsonNamingPolicy.SnakeCaseLower);
        builder.Services.AddOptions<HubOptions<ChatHub>>().Configure<IOptions<ChatOptions>>((hub, chat) =>
        {
            // SignalR closes a connection that sends more than this in one message (the hub's own limit check
            // answers anything between the content limit and this one).
            hub.MaximumReceiveMessageSize = chat.Value.MaxFrameBytes;
            hub.KeepAliveInterval = chat.Value.KeepAliveInterval;
            hub.ClientTimeoutInterval = chat.Value.KeepAliveInterval * 2;
        });
        return builder;
    }
}
