using System.CommandLine;
using System.Text.Json;

namespace Conductor.Cli.Commands;

/// <summary><c>rooms</c>, <c>up</c> (a room from the repository here, through the git remote) and <c>join</c>.</summary>
public static class RoomCommands
{
    public static Command Rooms()
    {
        var command = new Command("rooms", "List your rooms");
        command.SetHandler(async (result, output, cancellationToken) =>
        {
            using var client = GlobalOptions.ClientFor(result);
            var rooms = await client.GetAsync<JsonElement>("rooms", cancellationToken);
            var list = rooms.GetProperty("rooms").EnumerateArray().ToList();
            output.Result(rooms, () => list.Count == 0
                ? "No rooms yet: `conductor up` in a repository makes one."
                : string.Join('\n', list.Select(r =>
                    $"{r.GetProperty("room_id").GetGuid()}  {r.GetProperty("role").GetString(),-5}  {r.GetProperty("name").GetString()}{(r.GetProperty("ended_at").ValueKind == JsonValueKind.Null ? "" : "  (ended)")}")));
            return ExitCodes.Ok;
        });
        return command;
    }

    public static Command Up()
    {
        var name = new Option<string?>("--name") { Description = "The room's name (default: the repository folder's name)" };
        var command = new Command("up", "Create a room from the git repository here: push it to the room's git remote and print the invite link") { name };
        command.SetHandler(async (result, output, cancellationToken) =>
        {
            var top = await Git.TopLevelAsync(Directory.GetCurrentDirectory(), cancellationToken)
                ?? throw new CliException(ExitCodes.Usage, "Not in a git repository: run `conductor up` inside your local clone.");
            if ((await Git.RunAsync(top, ["rev-parse", "--verify", "HEAD"], cancellationToken)).ExitCode != 0)
            {
                throw new CliException(ExitCodes.Usage, "The repository has no commit yet: commit something first.");
            }
            using var client = GlobalOptions.ClientFor(result);
            client.RequireSession();
            var roomName = result.GetValue(name) ?? Path.GetFileName(top);
            var room = await client.PostAsync<JsonElement>("rooms", new { name = roomName }, cancellationToken);
            var roomId = room.GetProperty("room_id").GetGuid();
            var url = RoomContext.RemoteUrl(client.Server, roomId);
            await ConfigureRemoteAsync(top, client.Server, url, roomId, cancellationToken);

            var branch = RoomContext.RoomBranch(roomId);
            var head = (await Git.OkAsync(top, ["rev-parse", "HEAD"], cancellationToken)).Trim();
            await output.WithProgressAsync("Pushing to the room", progress =>
                Git.OkAsync(top, ["push", "--progress", RoomContext.RemoteName, $"HEAD:refs/heads/{branch}"], cancellationToken, progress));
            await Git.OkAsync(top, ["fetch", "--quiet", RoomContext.RemoteName, branch], cancellationToken);
            var workspace = await client.GetAsync<JsonElement>($"workspace/{roomId}", cancellationToken);
            var invite = await client.PostAsync<JsonElement>($"rooms/{roomId}/invites", new { }, cancellationToken);
            var link = invite.GetProperty("url").GetString();
            output.Result(new
            {
                room_id = roomId,
                name = roomName,
                remote = RoomContext.RemoteName,
                remote_url = url,
                branch,
                head_commit = head,
                workspace_status = workspace.GetProperty("status").GetString(),
                invite_url = link,
                invite_token = invite.GetProperty("token").GetString(),
            }, () => $"Room '{roomName}' is up ({roomId}).\nPushed {head[..12]} to {url} ({branch}).\nInvite your team: {link}");
            return ExitCodes.Ok;
        });
        return command;
    }

    public static Command Join()
    {
        var invite = new Argument<string>("invite") { Description = "The invite link (or its token)" };
        var directory = new Argument<string?>("directory") { Description = "Clone the room's repository into this folder", Arity = ArgumentArity.ZeroOrOne };
        var command = new Command("join", "Join a room from an invite, and clone its repository if a folder is given") { invite, directory };
        command.SetHandler(async (result, output, cancellationToken) =>
        {
            var text = result.GetValue(invite)!;
            var token = Uri.TryCreate(text, UriKind.Absolute, out var link) && System.Web.HttpUtility.ParseQueryString(link.Query)["token"] is { } fromLink ? fromLink : text;
            using var client = GlobalOptions.ClientFor(result);
            var joined = await client.PostAsync<JsonElement>("rooms/join", new { token }, cancellationToken);
            var roomId = joined.GetProperty("room_id").GetGuid();
            string? folder = null;
            if (result.GetValue(directory) is { } target)
            {
                folder = Path.GetFullPath(target);
                var url = RoomContext.RemoteUrl(client.Server, roomId);
                var key = RoomContext.CredentialHelperKey(client.Server);
                await output.WithProgressAsync("Cloning the room", progress => Git.OkAsync(Directory.GetCurrentDirectory(),
                    ["clone", "--progress", "--origin", RoomContext.RemoteName, "-b", RoomContext.RoomBranch(roomId), "-c", $"{key}=", "-c", $"{key}={RoomContext.CredentialHelperCommand()}",
                     "-c", $"{RoomContext.RoomKey}={roomId}", url, folder], cancellationToken, progress));
            }
            output.Result(new { room_id = roomId, role = joined.GetProperty("role").GetString(), directory = folder },
                () => $"Joined room {roomId} as {joined.GetProperty("role").GetString()}." + (folder is null ? "" : $"\nIts repository is in {folder}."));
            return ExitCodes.Ok;
        });
        return command;
    }

    /// <summary>
    /// The <c>conductor</c> remote with this CLI as its only credential helper (an empty value first drops any other
    /// helper for that server, so a "store" helper never writes the token to a file), and the room remembered.
    /// </summary>
    public static async Task ConfigureRemoteAsync(string top, Uri server, string url, Guid roomId, CancellationToken cancellationToken)
    {
        var remotes = (await Git.OkAsync(top, ["remote"], cancellationToken)).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        await Git.OkAsync(top, remotes.Contains(RoomContext.RemoteName)
            ? ["remote", "set-url", RoomContext.RemoteName, url]
            : ["remote", "add", RoomContext.RemoteName, url], cancellationToken);
        var key = RoomContext.CredentialHelperKey(server);
        await Git.RunAsync(top, ["config", "--local", "--unset-all", key], cancellationToken);
        await Git.OkAsync(top, ["config", "--local", "--add", key, ""], cancellationToken);
        await Git.OkAsync(top, ["config", "--local", "--add", key, RoomContext.CredentialHelperCommand()], cancellationToken);
        await Git.OkAsync(top, ["config", "--local", RoomContext.RoomKey, roomId.ToString("D")], cancellationToken);
    }
}
