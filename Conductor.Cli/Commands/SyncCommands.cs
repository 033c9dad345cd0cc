using System.CommandLine;
using System.Text.Json;

namespace Conductor.Cli.Commands;

/// <summary>
/// <c>sync</c>, <c>publish</c>, <c>status</c> and <c>diff</c> from a local clone of a room. Sync commits local changes,
/// pushes them to the member's branch <c>session/{room}-{login}</c>, asks the server to merge that branch into the
/// room's (three-way, conflicts reported per file with nothing applied) and fast-forwards the clone to the result.
/// </summary>
public static class SyncCommands
{
    private static readonly Option<string?> Message = new("--message", "-m") { Description = "Commit message for local changes (default: \"Work by <login>\")" };

    public static Command Sync()
    {
        var command = new Command("sync", "Merge your work into the room's branch and bring your clone up to date") { GlobalOptions.Room, Message };
        command.SetHandler(async (result, output, cancellationToken) =>
        {
            using var client = GlobalOptions.ClientFor(result);
            var synced = await SyncAsync(client, result, output, cancellationToken);
            output.Result(synced, () => Describe(synced));
            return ExitCodes.Ok;
        });
        return command;
    }

    public static Command Publish()
    {
        var remote = new Option<string>("--remote") { Description = "Your own remote to push to, for a room made from a push (default: origin)", DefaultValueFactory = _ => "origin" };
        var branch = new Option<string?>("--branch") { Description = "The branch to push to on your remote (default: your current branch)" };
        var command = new Command("publish", "Sync, then push: to your own remote for a room made by `conductor up`, else the server pushes to origin")
        {
            GlobalOptions.Room, Message, remote, branch,
        };
        command.SetHandler(async (result, output, cancellationToken) =>
        {
            using var client = GlobalOptions.ClientFor(result);
            var synced = await SyncAsync(client, result, output, cancellationToken);
            var workspace = await client.GetAsync<JsonElement>($"workspace/{synced.RoomId}", cancellationToken);
            if (workspace.GetProperty("repo_url").GetString() == "conductor:push")
            {
                // Model B: the user's machine pushes to the user's remote with the user's own git credentials.
                var top = synced.Directory;
                var target = result.GetValue(branch) ?? (await Git.OkAsync(top, ["rev-parse", "--abbrev-ref", "HEAD"], cancellationToken)).Trim();
                if (target == "HEAD")
                {
                    throw new CliException(ExitCodes.Usage, "Detached HEAD: pass --branch to say where to push.");
                }
                var remoteName = result.GetValue(remote)!;
                await output.WithProgressAsync($"Pushing to {remoteName}", progress =>
                    Git.OkAsync(top, ["push", "--progress", remoteName, $"HEAD:refs/heads/{target}"], cancellationToken, progress));
                output.Result(new { sync = synced, pushed = true, remote = remoteName, branch = target },
                    () => $"{Describe(synced)}\nPushed {synced.HeadCommit[..12]} to {remoteName} {target}.");
                return ExitCodes.Ok;
            }
            var published = await client.PostAsync<JsonElement>($"workspace/{synced.RoomId}/publish", new { }, cancellationToken);
            var pushed = published.GetProperty("pushed").GetBoolean();
            var error = published.TryGetProperty("push_error", out var e) ? e.GetString() : null;
            output.Result(new { sync = synced, pushed, push_error = error }, () => $"{Describe(synced)}\n" + (pushed ? "The server pushed the room's branch to origin." : $"The push was refused: {error}"));
            return pushed ? ExitCodes.Ok : ExitCodes.Conflict;
        });
        return command;
    }

    public static Command Status()
    {
        var command = new Command("status", "Your clone against the room's branch: commits ahead and behind, changed files") { GlobalOptions.Room };
        command.SetHandler(async (result, output, cancellationToken) =>
        {
            using var client = GlobalOptions.ClientFor(result);
            var (top, roomId) = await LocateAsync(result, cancellationToken);
            var workspace = await client.GetAsync<JsonElement>($"workspace/{roomId}", cancellationToken);
            await Git.OkAsync(top, ["fetch", "--quiet", RoomContext.RemoteName], cancellationToken);
            var roomRef = $"{RoomContext.RemoteName}/{RoomContext.RoomBranch(roomId)}";
            var counts = (await Git.OkAsync(top, ["rev-list", "--left-right", "--count", $"HEAD...{roomRef}"], cancellationToken)).Split('\t', ' ', '\n');
            var changed = (await Git.OkAsync(top, ["status", "--porcelain=v1", "--untracked-files=all"], cancellationToken))
                .Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => new { state = l[..2].Trim(), path = l[3..] }).ToList();
            var state = new
            {
                room_id = roomId,
                workspace_status = workspace.GetProperty("status").GetString(),
                room_branch = RoomContext.RoomBranch(roomId),
                room_commit = (await Git.OkAsync(top, ["rev-parse", roomRef], cancellationToken)).Trim(),
                head_commit = (await Git.OkAsync(top, ["rev-parse", "HEAD"], cancellationToken)).Trim(),
                ahead = int.Parse(counts[0], System.Globalization.CultureInfo.InvariantCulture),
                behind = int.Parse(counts[1], System.Globalization.CultureInfo.InvariantCulture),
                changed,
            };
            output.Result(state, () => $"Room {roomId} ({state.workspace_status}), branch {state.room_branch} at {state.room_commit[..12]}\n" +
                $"Your clone: {state.ahead} commit(s) ahead, {state.behind} behind, {changed.Count} changed file(s)" +
                string.Concat(changed.Select(c => $"\n  {c.state,-2} {c.path}")));
            return ExitCodes.Ok;
        });
        return command;
    }

    public static Command Diff()
    {
        var command = new Command("diff", "Your clone's files against the room's branch, as a unified diff") { GlobalOptions.Room };
        command.SetHandler(async (result, output, cancellationToken) =>
        {
            var (top, roomId) = await LocateAsync(result, cancellationToken);
            await Git.OkAsync(top, ["fetch", "--quiet", RoomContext.RemoteName], cancellationToken);
            var roomRef = $"{RoomContext.RemoteName}/{RoomContext.RoomBranch(roomId)}";
            var patch = await Git.OkAsync(top, ["diff", "--no-color", roomRef], cancellationToken);
            output.Result(new { room_id = roomId, against = roomRef, patch }, () => patch.TrimEnd('\n'));
            return ExitCodes.Ok;
        });
        return command;
    }

    public sealed record SyncResult(Guid RoomId, string Directory, string Status, string? LocalCommit, string BaseCommit, string HeadCommit, string Branch);

    private static async Task<SyncResult> SyncAsync(ConductorClient client, ParseResult result, Output output, CancellationToken cancellationToken)
    {
        var session = client.RequireSession();
        var (top, roomId) = await LocateAsync(result, cancellationToken);
        string? localCommit = null;
        if ((await Git.OkAsync(top, ["status", "--porcelain"], cancellationToken)).Trim().Length > 0)
        {
            await Git.OkAsync(top, ["add", "--all"], cancellationToken);
            await Git.OkAsync(top, ["commit", "--quiet", "-m", result.GetValue(Message) ?? $"Work by {session.Login}"], cancellationToken);
            localCommit = (await Git.OkAsync(top, ["rev-parse", "HEAD"], cancellationToken)).Trim();
        }
        var memberBranch = RoomContext.MemberBranch(roomId, session.Login);
        var push = await Git.RunAsync(top, ["push", "--quiet", RoomContext.RemoteName, $"HEAD:refs/heads/{memberBranch}"], cancellationToken);
        if (push.ExitCode != 0)
        {
            throw push.Error.Contains("403", StringComparison.Ordinal)
                ? new CliException(ExitCodes.Forbidden, "The room does not let you push yet: ask its host to allow you (PUT /workspace/{room}/pushers/{you}).", "push_forbidden")
                : new CliException(ExitCodes.GitFailed, $"Pushing your work to {memberBranch} failed: {push.Error.Trim()}", "git_failed");
        }
        JsonElement synced;
        try
        {
            synced = await client.PostAsync<JsonElement>($"workspace/{roomId}/sync", new { message = result.GetValue(Message) }, cancellationToken);
        }
        catch (CliException ex) when (ex.Code == "sync_conflicts" && ex.Details is JsonElement problem)
        {
            var files = problem.GetProperty("conflicts").EnumerateArray().Select(c => $"  {c.GetProperty("path").GetString()} ({c.GetProperty("kind").GetString()})");
            throw new CliException(ExitCodes.Conflict, $"{ex.Message}\n{string.Join('\n', files)}", ex.Code, problem);
        }
        await Git.OkAsync(top, ["fetch", "--quiet", RoomContext.RemoteName], cancellationToken);
        var roomRef = $"{RoomContext.RemoteName}/{RoomContext.RoomBranch(roomId)}";
        await Git.OkAsync(top, ["merge", "--quiet", "--ff-only", roomRef], cancellationToken);
        output.Info($"Your clone is at {roomRef}.");
        return new SyncResult(roomId, top, synced.GetProperty("status").GetString()!, localCommit, synced.GetProperty("base_commit").GetString()!,
            synced.GetProperty("head_commit").GetString()!, synced.GetProperty("branch").GetString()!);
    }

    private static async Task<(string Top, Guid RoomId)> LocateAsync(ParseResult result, CancellationToken cancellationToken)
    {
        var top = await Git.TopLevelAsync(Directory.GetCurrentDirectory(), cancellationToken)
            ?? throw new CliException(ExitCodes.Usage, "Not in a git repository: run this inside a clone set up by `conductor up` or `conductor join`.");
        return (top, await RoomContext.ResolveAsync(result.GetValue(GlobalOptions.Room), cancellationToken));
    }

    private static string Describe(SyncResult synced) => synced.Status switch
    {
        "up_to_date" => $"Nothing new to merge; {synced.Branch} is at {synced.HeadCommit[..12]}.",
        "fast_forward" => $"{synced.Branch} moved forward to your work ({synced.HeadCommit[..12]}).",
        _ => $"Merged your work into {synced.Branch} ({synced.BaseCommit[..12]} -> {synced.HeadCommit[..12]}).",
    };
}
