using System.CommandLine;
using Conductor.Cli.Commands;

var root = new RootCommand("conductor: rooms, chat and shared git work from your terminal")
{
    GlobalOptions.Json,
    GlobalOptions.Server,
};
root.Subcommands.Add(AuthCommands.Login());
root.Subcommands.Add(AuthCommands.WhoAmI());
root.Subcommands.Add(AuthCommands.Logout());
root.Subcommands.Add(RoomCommands.Rooms());
root.Subcommands.Add(RoomCommands.Up());
root.Subcommands.Add(RoomCommands.Join());
root.Subcommands.Add(ChatCommand.Create());
root.Subcommands.Add(SyncCommands.Sync());
root.Subcommands.Add(SyncCommands.Publish());
root.Subcommands.Add(SyncCommands.Status());
root.Subcommands.Add(SyncCommands.Diff());
root.Subcommands.Add(WatchCommand.Create());
root.Subcommands.Add(AuthCommands.Credential());

var parsed = root.Parse(args);
if (parsed.Errors.Count > 0 && parsed.Action is not System.CommandLine.Help.HelpAction)
{
    foreach (var error in parsed.Errors)
    {
        Console.Error.WriteLine($"conductor: {error.Message}");
    }
    return ExitCodesUsage();
}
return await parsed.InvokeAsync();

static int ExitCodesUsage() => Conductor.Cli.ExitCodes.Usage;
