using Microsoft.Extensions.Options;

namespace Conductor.Api.Files;

/// <summary>Registers the shared-files services: options (validated on start), the store and the chat poster.</summary>
public static class FilesExtensions
{
    public static IHostApplicationBuilder AddConductorFiles(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<FileOptions>().Bind(builder.Configuration.GetSection(FileOptions.Section)).ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<FileOptions>, FileOptionsValidator>();
        builder.Services.AddSingleton<FileStore>();
        // Scoped: resolved per upload from the request's services, beside the chat service it posts through.
        builder.Services.AddScoped<IRoomChatPoster, ChatRoomChatPoster>();
        return builder;
    }
}
