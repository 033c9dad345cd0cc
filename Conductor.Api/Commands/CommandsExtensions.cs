using Conductor.Api.Sandbox;

namespace Conductor.Api.Commands;

public static class CommandsExtensions
{
    /// <summary>Commands, the sandbox and terminals: options validated at start-up.</summary>
    public static IHostApplicationBuilder AddConductorCommands(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<SandboxOptions>().Bind(builder.Configuration.GetSection(SandboxOptions.SectionName)).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddOptions<CommandOptions>().Bind(builder.Configuration.GetSection(CommandOptions.SectionName)).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddSingleton<SandboxLauncher>();
        builder.Services.AddSingleton<CommandStore>();
        builder.Services.AddSingleton<Terminals.TerminalLocator>();
        builder.Services.AddSingleton<Terminals.TerminalRegistry>();
        builder.Services.AddSingleton<Terminals.TerminalRelay>();
        builder.Services.AddHostedService<Terminals.TerminalLeaseKeeper>();
        builder.Services.AddSingleton<CommandService>();
        builder.Services.AddHostedService(services => services.GetRequiredService<CommandService>());
        return builder;
    }
}
