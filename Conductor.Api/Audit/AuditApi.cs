using System.Globalization;
using Conductor.Api.Auth;
using Conductor.Api.Changes;
using Conductor.Api.Rooms;
using Conductor.Workspaces.Files;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Conductor.Api.Audit;

public static class AuditApi
{
    public static RouteGroupBuilder MapAuditApi(this IEndpointRouteBuilder endpoints)
    {
        var group = endpoints.MapGroup("/audit").WithTags("Audit").RequireAuthorization();
        group.MapPost("/log-apply", LogApplyAsync).WithName("LogApply");
        group.MapGet("/", QueryAsync).WithName("GetAudit").RequireRoomAccess();
        return group;
    }

    internal static async Task<Results<Ok<LogApplyResponse>, ProblemHttpResult>> LogApplyAsync(LogApplyRequest? request, HttpContext context,
        IRoomMembership membership, ChangeStore changes, AuditLog audit, ChangeEvents events, CancellationToken cancellationToken)
    {
        if (request?.RoomId is not { } roomId || request.ChangeId is not { } changeId || string.IsNullOrWhiteSpace(request.FilePath))
        {
            return BadRequest("room_id, change_id, action and file_path are required", "Send {room_id, change_id, action, file_path}.");
        }
        if (request.Action is not (AuditActions.Applied or AuditActions.Skipped))
        {
            return BadRequest("Invalid action", "action is 'applied' or 'skipped'.");
        }
        if (await membership.CheckAsync(roomId, context.User, cancellationToken, write: true) is { } denied)
        {
            return denied;
        }
        // Only changes this room was offered can be logged, under their own path: the trail cannot be padded with inventions.
        var change = await changes.FindChangeAsync(changeId, cancellationToken);
        if (change is null || change.Value.RoomId != roomId)
        {
            return BadRequest("Unknown change", "change_id is not a change generated in this room.");
        }
        string path;
        try
        {
            path = WorkspacePaths.Normalize(request.FilePath, tidy: true);
        }
        catch (WorkspacePathException ex)
        {
            return BadRequest("Invalid file_path", ex.Message);
        }
        if (path != change.Value.Change.FilePath)
        {
            return BadRequest("file_path does not match the change", $"Change {changeId} is for '{change.Value.Change.FilePath}'.");
        }
        await audit.AppendAsync(roomId, context.User.GetUserId(), request.Action, "client", change.Value.Change.ChangeSetId, changeId, path,
            null, cancellationToken);
        // A skip decides the change for every reviewer (ChangeStatuses); a client's own "applied" is only its report.
        if (request.Action == AuditActions.Skipped)
        {
            await events.ReviewedAsync(roomId, change.Value.Change, ChangeStatuses.Skipped, context.User.GetUserId(), null, cancellationToken);
        }
        return TypedResults.Ok(new LogApplyResponse(true));
    }

    internal static async Task<Results<Ok<AuditResponse>, ProblemHttpResult>> QueryAsync(RoomScope scope, AuditLog audit,
        CancellationToken cancellationToken, string? since = null, string? limit = null)
    {
        var roomId = scope.RoomId;
        DateTimeOffset? sinceTime = null;
        if (since is not null)
        {
            if (!DateTimeOffset.TryParse(since, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var parsed))
            {
                return BadRequest("Invalid since", "since is an ISO 8601 timestamp.");
            }
            sinceTime = parsed;
        }
        var take = 100;
        if (limit is not null && (!int.TryParse(limit, NumberStyles.None, CultureInfo.InvariantCulture, out take) || take is < 1 or > AuditLog.MaxLimit))
        {
            return BadRequest("Invalid limit", $"limit is between 1 and {AuditLog.MaxLimit}.");
        }
        return TypedResults.Ok(new AuditResponse(roomId, await audit.QueryAsync(roomId, sinceTime, take, cancellationToken)));
    }

    private static ProblemHttpResult BadRequest(string title, string detail) => ApiProblems.Create(StatusCodes.Status400BadRequest, title, detail);
}
