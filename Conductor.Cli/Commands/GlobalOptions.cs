using System.CommandLine;

namespace Conductor.Cli.Commands;

/// <summary>Options every command takes (declared once on the root, recursive).</summary>
public static class GlobalOptions
{
    public static readonly Option<bool> Json = new("--json") { Description = "Print results as JSON (errors too), for scripts", Recursive = true };
    public static readonly Option<string?> Server = new("--server") { Description = "The Conductor Api's URL (default: the signed-in server, or $CONDUCTOR_SERVER)", Recursive = true };
    public static readonly Option<string?> Room = new("--room") { Description = "The room id (default: the conductor.room setting of the repository here)" };

    public static Output OutputFor(ParseResult result) => new(result.GetValue(Json));

    public static ConductorClient ClientFor(ParseResult result) => new(new ConfigStore(), result.GetValue(Server));

    /// <summary>Runs a command body, turning failures into one message and the matching exit code.</summary>
    public static void SetHandler(this Command command, Func<ParseResult, Output, CancellationToken, Task<int>> body) =>
        command.SetAction(async (result, cancellationToken) =>
        {
            var output = OutputFor(result);
            try
            {
                return await body(result, output, cancellationToken);
            }
            catch (CliException ex)
            {
                output.Error(ex);
                return ex.ExitCode;
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return 130;
            }
        });
}
