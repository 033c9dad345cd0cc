using System.Net.ServerSentEvents;
using System.Runtime.CompilerServices;
using System.Security.Claims;
using Conductor.Api.Auth;
using Conductor.Api.Rooms;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;

namespace Conductor.Api.Commands;

/// <summary>
/// Commands in a room's sandbox (docs/commands.md): run (answered as an SSE stream when asked for
/// <c>text/event-stream</c>), watch, list, cancel, and the host's settings (allowlist, concurrency, network). An output
/// stream ends when the session that opened it signs out (the command runs on: it is the room's).
/// </summary>
public static class CommandsApi
{
    public static RouteGroupBuilder MapCommandsApi(this IEndpointRouteBuilder endpoints)
    {
        var group = endpoints.MapGroup("/workspace/{room_id}/commands").WithTags("Commands").RequireRoomAccess();
        group.MapPost("", RunAsync).WithName("RunCommand").RequireRoomAccess(write: true);
        group.MapGet("", ListAsync).WithName("ListCommands");
        group.MapGet("/settings", GetSettingsAsync).WithName("GetCommandSettings");
        group.MapPut("/settings", UpdateSettingsAsync).WithName("UpdateCommandSettings").RequireRoomAccess(RoomRole.Host, write: true);
        group.MapGet("/{command_id}", GetAsync).WithName("GetCommand");
        group.MapGet("/{command_id}/output", WatchAsync).WithName("WatchCommand");
        group.MapPost("/{command_id}/cancel", CancelAsync).WithName("CancelCommand").RequireRoomAccess(write: true);
        return group;
    }

    internal static async Task<Results<Created<CommandRun>, ServerSentEventsResult<string>, ProblemHttpResult>> RunAsync(RoomScope scope,
        RunCommandRequest request, ClaimsPrincipal user, HttpContext context, CommandService commands, SessionConnections sessions,
        CancellationToken cancellationToken)
    {
        var start = await commands.BeginAsync(scope.RoomId, user.GetUserId(), user.GetLogin(), request, cancellationToken);
        if (start.Running is not { } running)
        {
            return ApiProblems.Create(start.Status, start.Title!, start.Detail!, start.Code);
        }
        if (context.Request.Headers.Accept.Any(a => a?.Contains("text/event-stream", StringComparison.OrdinalIgnoreCase) == true))
        {
            return TypedResults.ServerSentEvents(sessions.EndOnSignOut(user, Stream(running, includeStart: true, context.RequestAborted), context.RequestAborted));
        }
        return TypedResults.Created($"/workspace/{scope.RoomId:D}/commands/{running.Run.Id:D}", running.Run);
    }

    internal static async Task<Ok<IReadOnlyList<CommandRun>>> ListAsync(RoomScope scope, int? limit, CommandStore store, CancellationToken cancellationToken) =>
        TypedResults.Ok(await store.ListAsync(scope.RoomId, Math.Clamp(limit ?? 20, 1, 200), cancellationToken));

    internal static async Task<Results<Ok<CommandRun>, ProblemHttpResult>> GetAsync(RoomScope scope, string command_id, CommandStore store,
        CancellationToken cancellationToken) =>
        await FindAsync(scope, command_id, store, cancellationToken) is { } run ? TypedResults.Ok(run) : NotFound(command_id);

    /// <summary>
    /// The run's output from its start, then live until it ends (on the instance running it); a finished run gives
    /// its stored tail and its record.
    /// </summary>
    internal static async Task<Results<ServerSentEventsResult<string>, ProblemHttpResult>> WatchAsync(RoomScope scope, string command_id,
        CommandStore store, CommandService commands, HttpContext context, SessionConnections sessions, CancellationToken cancellationToken)
    {
        if (await FindAsync(scope, command_id, store, cancellationToken) is not { } run)
        {
            return NotFound(command_id);
        }
        if (commands.FindLocal(scope.RoomId, run.Id) is { } running)
        {
            return TypedResults.ServerSentEvents(sessions.EndOnSignOut(context.User, Stream(running, includeStart: true, context.RequestAborted), context.RequestAborted));
        }
        if (run.Status == CommandStatus.Running)
        {
            return ApiProblems.Create(409, "Running elsewhere", "The command runs on another Api instance: follow its output on the room's event stream.",
                CommandErrors.Busy);
        }
        return TypedResults.ServerSentEvents(Finished(run));
    }

    internal static async Task<Results<Ok<CommandRun>, Accepted<CommandRun>, ProblemHttpResult>> CancelAsync(RoomScope scope, string command_id,
        ClaimsPrincipal user, CommandStore store, CommandService commands, IRoomMembership membership, CancellationToken cancellationToken)
    {
        if (await FindAsync(scope, command_id, store, cancellationToken) is not { } run)
        {
            return NotFound(command_id);
        }
        var caller = user.GetUserId();
        if (run.UserId != caller && await membership.GetRoleAsync(scope.RoomId, caller, cancellationToken) != RoomRole.Host)
        {
            return ApiProblems.Create(403, "Not your command", "Only whoever ran the command, or the room's host, can cancel it.", ApiProblems.HostOnlyCode);
        }
        if (run.Status != CommandStatus.Running)
        {
            return ApiProblems.Create(409, "Already finished", $"The command has already ended ({run.Status}).", CommandErrors.Finished);
        }
        var local = commands.FindLocal(scope.RoomId, run.Id);
        await commands.CancelAsync(run, caller, cancellationToken);
        if (local is not null)
        {
            try
            {
                return TypedResults.Ok(await local.Completion.WaitAsync(TimeSpan.FromSeconds(15), cancellationToken));
            }
            catch (TimeoutException)
            {
                // Still going down (a process ignoring its kill is not possible, but a slow disk flush is): it ends shortly.
            }
        }
        return TypedResults.Accepted($"/workspace/{scope.RoomId:D}/commands/{run.Id:D}", run);
    }

    internal static async Task<Ok<CommandSettings>> GetSettingsAsync(RoomScope scope, CommandStore store, CancellationToken cancellationToken) =>
        TypedResults.Ok(await store.GetSettingsAsync(scope.RoomId, cancellationToken));

    internal static async Task<Results<Ok<CommandSettings>, ProblemHttpResult>> UpdateSettingsAsync(RoomScope scope, UpdateCommandSettingsRequest request,
        ClaimsPrincipal user, CommandStore store, IOptions<CommandOptions> options, RoomEventPublisher events, TimeProvider time,
        CancellationToken cancellationToken)
    {
        var limits = options.Value;
        var current = await store.GetSettingsAsync(scope.RoomId, cancellationToken);
        if (request.MaxConcurrent is { } max && (max < 1 || max > limits.MaxConcurrentLimit))
        {
            return ApiProblems.Create(400, "Invalid settings", $"max_concurrent must be between 1 and {limits.MaxConcurrentLimit}.", CommandErrors.InvalidSettings);
        }
        if (request.Allowlist is { } list)
        {
            if (list.Count > limits.MaxAllowlistEntries)
            {
                return ApiProblems.Create(400, "Invalid settings", $"At most {limits.MaxAllowlistEntries} allowlist entries.", CommandErrors.InvalidSettings);
            }
            foreach (var entry in list)
            {
                var error = entry is null ? "Entries are objects with a command." : CommandPolicy.ValidateEntry(entry);
                if (error is not null)
                {
                    return ApiProblems.Create(400, "Invalid allowlist entry", error, CommandErrors.InvalidSettings);
                }
            }
        }
        var reset = request.ResetAllowlist == true;
        var updated = new CommandSettings(
            reset ? limits.Defaults : request.Allowlist is { } given ? [.. given.Select(e => new AllowedCommand(string.Join(' ', e.Command.Split((char[]?)null,
                StringSplitOptions.RemoveEmptyEntries)), e.Options ?? []))] : current.Allowlist,
            reset || (request.Allowlist is null && current.UsesDefaults),
            request.MaxConcurrent ?? current.MaxConcurrent,
            request.Network ?? current.Network);
        await store.SaveSettingsAsync(scope.RoomId, user.GetUserId(), updated, time.GetUtcNow(), cancellationToken);
        await events.PublishAsync(scope.RoomId, "command_settings_changed", new { type = "command_settings_changed", room_id = scope.RoomId, by_user_id = user.GetUserId() },
            cancellationToken);
        return TypedResults.Ok(updated);
    }

    private static async Task<CommandRun?> FindAsync(RoomScope scope, string commandId, CommandStore store, CancellationToken cancellationToken) =>
        Guid.TryParse(commandId, out var id) ? await store.GetAsync(scope.RoomId, id, cancellationToken) : null;

    private static ProblemHttpResult NotFound(string commandId) => ApiProblems.NotFound("Command", commandId);

    /// <summary>SSE: <c>started</c> (the run), <c>output</c> ({seq, text}) in order, then <c>finished</c> (the final run).</summary>
    private static async IAsyncEnumerable<SseItem<string>> Stream(RunningCommand running, bool includeStart, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        if (includeStart)
        {
            yield return new SseItem<string>(CommandService.ToJson(running.Run), "started");
        }
        var reader = running.Watch();
        try
        {
            await foreach (var item in reader.ReadAllAsync(cancellationToken))
            {
                yield return item switch
                {
                    CommandOutputItem output => new SseItem<string>(CommandService.ToJson(output.Chunk), "output") { EventId = output.Chunk.Seq.ToString(System.Globalization.CultureInfo.InvariantCulture) },
                    CommandFinishedItem finished => new SseItem<string>(CommandService.ToJson(finished.Run), "finished"),
                    _ => throw new InvalidOperationException("Unknown stream item."),
                };
            }
        }
        finally
        {
            running.Unwatch(reader);
        }
    }

    private static async IAsyncEnumerable<SseItem<string>> Finished(CommandRun run)
    {
        await Task.CompletedTask;
        if (!string.IsNullOrEmpty(run.OutputTail))
        {
            yield return new SseItem<string>(CommandService.ToJson(new OutputChunk(1, run.OutputTail)), "output");
        }
        yield return new SseItem<string>(CommandService.ToJson(run), "finished");
    }
}
