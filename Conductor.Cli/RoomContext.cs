namespace Conductor.Cli;

/// <summary>
/// Which room a command acts on: <c>--room</c>, else the <c>conductor.room</c> setting of the git repository in the
/// current folder (written by <c>conductor up</c> and <c>conductor join</c>).
/// </summary>
public static class RoomContext
{
    public const string RemoteName = "conductor";
    public const string RoomKey = "conductor.room";

    public static async Task<Guid> ResolveAsync(string? room, CancellationToken cancellationToken)
    {
        if (!string.IsNullOrWhiteSpace(room))
        {
            return Guid.TryParse(room, out var id) ? id : throw new CliException(ExitCodes.Usage, $"--room '{room}' is not a room id.");
        }
        var configured = await Git.ConfigAsync(Directory.GetCurrentDirectory(), RoomKey, cancellationToken);
        return Guid.TryParse(configured, out var fromRepo)
            ? fromRepo
            : throw new CliException(ExitCodes.Usage, "No room: pass --room ID, or run this inside a repository set up by `conductor up` or `conductor join`.");
    }

    public static string RoomBranch(Guid roomId) => $"session/{roomId:D}";

    public static string MemberBranch(Guid roomId, string login) => $"session/{roomId:D}-{login}";

    public static string RemoteUrl(Uri server, Guid roomId) => new Uri(server, $"git/{roomId:D}.git").ToString();

    /// <summary>
    /// The command git runs as the credential helper for the Conductor server: this very program with
    /// <c>credential</c>. Under <c>dotnet conductor.dll</c> that is the host plus the assembly.
    /// </summary>
    public static string CredentialHelperCommand()
    {
        var process = Environment.ProcessPath ?? "conductor";
        var self = Path.GetFileNameWithoutExtension(process) == "dotnet"
            ? $"'{process}' '{Path.Combine(AppContext.BaseDirectory, "conductor.dll")}'"
            : $"'{process}'";
        return $"!{self} credential";
    }

    /// <summary>git config key that scopes the helper to the server's URL (git matches it by prefix).</summary>
    public static string CredentialHelperKey(Uri server) => $"credential.{server.GetLeftPart(UriPartial.Authority)}.helper";
}
