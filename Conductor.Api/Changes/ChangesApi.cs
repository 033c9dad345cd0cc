using Conductor.Api.Ai;
using Conductor.Api.Auth;
using Conductor.Api.Rooms;
using Conductor.Workspaces;
using Conductor.Workspaces.Files;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;

namespace Conductor.Api.Changes;

public static partial class ChangesApi
{
    public static IEndpointRouteBuilder MapChangesApi(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapPost("/generate-changes", GenerateAsync).WithTags("Changes").WithName("GenerateChanges").RequireAuthorization();
        var changes = endpoints.MapGroup("/changes").WithTags("Changes").RequireAuthorization();
        changes.MapGet("/{changeSetId}", GetAsync).WithName("GetChangeSet");
        changes.MapPost("/{changeSetId}/apply", ApplyAsync).WithName("ApplyChanges");
        endpoints.MapPost("/policy/evaluate-auto-apply", EvaluateAsync).WithTags("Changes").WithName("EvaluateAutoApply").RequireAuthorization();
        endpoints.MapGroup("/rooms/{room_id}/change-sets").WithTags("Changes").RequireRoomAccess()
            .MapGet("", ListAsync).WithName("ListChangeSets");
        return endpoints;
    }

    internal static async Task<Results<Ok<ChangeSetResponse>, ProblemHttpResult>> GenerateAsync(GenerateChangesRequest? request, HttpContext context,
        IRoomMembership membership, AiSelections selections, IWorkspaceFiles workspace, ChangeGenerator generator, ChangeStore store,
        PolicyEvaluator policy, ChangeEvents events, IOptions<ChangeOptions> options, TimeProvider time, CancellationToken cancellationToken)
    {
        var limits = options.Value;
        if (request?.RoomId is not { } roomId || string.IsNullOrWhiteSpace(request.Instruction))
        {
            return Problem(400, "room_id and instruction are required", "Send {room_id, instruction, files?}.");
        }
        if (request.Instruction.Length > limits.MaxInstructionChars)
        {
            return Problem(400, "Instruction too long", $"instruction is limited to {limits.MaxInstructionChars} characters.");
        }
        var requested = request.Files ?? [];
        if (requested.Count > limits.MaxContextFiles)
        {
            return Problem(400, "Too many files", $"At most {limits.MaxContextFiles} files can be given as context.");
        }
        List<string> paths;
        try
        {
            paths = requested.Select(path => WorkspacePaths.Normalize(path, tidy: true)).Distinct(StringComparer.Ordinal).ToList();
        }
        catch (WorkspaceException ex)
        {
            return Problem(400, "Invalid file path", ex.Message);
        }
        if (await membership.CheckAsync(roomId, context.User, cancellationToken, write: true) is { } denied)
        {
            return denied;
        }

        var userId = context.User.GetUserId();
        var provider = await selections.GetActiveAsync(userId, cancellationToken);
        // What each path looked like when read: the base of its diff and the etag apply must still find.
        var bases = new Dictionary<string, WorkspaceFile?>(StringComparer.Ordinal);
        var contextFiles = new List<ContextFile>();
        try
        {
            var total = 0L;
            foreach (var path in paths)
            {
                var file = await workspace.ReadAsync(roomId, path, cancellationToken);
                bases[path] = file;
                total += file?.Content.Length ?? 0;
                contextFiles.Add(new ContextFile(path, file?.Content));
            }
            if (total > limits.MaxContextChars)
            {
                return Problem(400, "Context too large", $"The files hold {total} characters; at most {limits.MaxContextChars} can be sent.");
            }
        }
        catch (WorkspaceException ex)
        {
            return Problem(400, "Cannot read a file", ex.Message);
        }

        async Task<IReadOnlyList<string>> CheckAsync(IReadOnlyList<ProposedChange> proposed, CancellationToken ct) =>
            (await ChangeChecks.CheckAsync(roomId, proposed, workspace, bases, ct)).Errors;

        string agent;
        IReadOnlyList<ProposedChange> changes;
        try
        {
            (agent, changes) = await generator.GenerateAsync(provider, request.Instruction, contextFiles, CheckAsync, cancellationToken);
        }
        catch (ChangeGenerationException ex)
        {
            return ApiProblems.Create(StatusCodes.Status502BadGateway, "The AI provider did not produce valid changes",
                $"'{ex.Provider}' failed twice: {string.Join("; ", ex.Errors.Take(5))}.",
                extensions: new Dictionary<string, object?> { ["provider"] = ex.Provider, ["errors"] = ex.Errors.Take(20).ToList() });
        }

        var setId = Guid.NewGuid();
        var stored = changes.Select((change, index) =>
        {
            var path = WorkspacePaths.Normalize(change.FilePath, tidy: true);
            var before = bases[path];
            return new StoredChange(Guid.NewGuid(), setId, index, path, change.Type, change.Content,
                UnifiedDiff.Create(path, before?.Content, change.Type == ChangeTypes.Delete ? null : change.Content),
                change.Rationale, before?.ETag, "pending");
        }).ToList();
        var set = new StoredChangeSet(setId, roomId, userId, agent, provider.Name, provider.Model, request.Instruction, paths,
            time.GetUtcNow(), stored);
        await store.InsertAsync(set, cancellationToken);
        set = set with { CreatedByLogin = context.User.GetLogin() };
        await events.ProposedAsync(set, set.CreatedByLogin, Verdict(policy, set), cancellationToken);
        return TypedResults.Ok(ChangeSetResponse.From(set));
    }

    internal static async Task<Results<Ok<ChangeSetResponse>, ProblemHttpResult>> GetAsync(string changeSetId, HttpContext context,
        IRoomMembership membership, ChangeStore store, CancellationToken cancellationToken)
    {
        var set = Guid.TryParse(changeSetId, out var id) ? await store.GetAsync(id, cancellationToken) : null;
        if (set is null || await membership.CheckAsync(set.RoomId, context.User, cancellationToken) is not null)
        {
            return ApiProblems.NotFound("Change set", changeSetId);
        }
        return TypedResults.Ok(ChangeSetResponse.From(set));
    }

    internal static async Task<Results<Ok<PolicyDecision>, ProblemHttpResult>> EvaluateAsync(EvaluatePolicyRequest? request, HttpContext context,
        IRoomMembership membership, ChangeStore store, PolicyEvaluator policy, CancellationToken cancellationToken)
    {
        if (request?.ChangeSetId is { } setId)
        {
            var set = await store.GetAsync(setId, cancellationToken);
            if (set is null || await membership.CheckAsync(set.RoomId, context.User, cancellationToken) is not null)
            {
                return ApiProblems.NotFound("Change set", setId.ToString("D"));
            }
            return TypedResults.Ok(Verdict(policy, set));
        }
        if (request?.Changes is not { } raw)
        {
            return Problem(400, "change_set_id or changes is required", "Send {change_set_id} or {changes:[{file_path, type, content?, diff?}]}.");
        }
        if (raw.Count > ChangeGenerator.MaxChanges * 2)
        {
            return Problem(400, "Too many changes", $"At most {ChangeGenerator.MaxChanges * 2} changes can be evaluated at once.");
        }
        var changes = new List<PolicyChange>();
        try
        {
            foreach (var change in raw)
            {
                if (!ChangeTypes.IsKnown(change.Type))
                {
                    return Problem(400, "Invalid change type", "type is create, modify or delete.");
                }
                changes.Add(new PolicyChange(WorkspacePaths.Normalize(change.FilePath, tidy: true), change.Type!, change.Content, change.Diff));
            }
            var context_ = request.ContextFiles?.Select(path => WorkspacePaths.Normalize(path, tidy: true)).ToList();
            return TypedResults.Ok(policy.Evaluate(changes, context_));
        }
        catch (WorkspaceException ex)
        {
            return Problem(400, "Invalid file path", ex.Message);
        }
    }

    internal static async Task<Results<Ok<ApplyResponse>, ProblemHttpResult>> ApplyAsync(string changeSetId, ApplyChangesRequest? request,
        HttpContext context, IRoomMembership membership, ChangeStore store, ChangeApplier applier, CancellationToken cancellationToken)
    {
        var set = Guid.TryParse(changeSetId, out var id) ? await store.GetAsync(id, cancellationToken) : null;
        if (set is null || await membership.DecideAsync(set.RoomId, context.User.GetUserId(), RoomRole.Guest, write: false, cancellationToken) is not null)
        {
            return ApiProblems.NotFound("Change set", changeSetId);
        }
        if (await membership.CheckAsync(set.RoomId, context.User, cancellationToken, write: true) is { } denied)
        {
            return denied;
        }
        if (request?.ChangeIds is not { Count: > 0 } ids)
        {
            return Problem(400, "change_ids is required", "Name the changes of the set to apply.");
        }
        var byId = set.Changes.ToDictionary(c => c.Id);
        var unknown = ids.Where(i => !byId.ContainsKey(i)).ToList();
        if (unknown.Count > 0 || ids.Distinct().Count() != ids.Count)
        {
            return Problem(400, "Invalid change_ids", unknown.Count > 0
                ? $"Not changes of this set: {string.Join(", ", unknown.Take(5))}."
                : "A change is named twice.");
        }

        var results = await applier.ApplyAsync(set, ids.Select(i => byId[i]), context.User.GetUserId(), cancellationToken);
        if (results.All(r => r.Outcome == "applied"))
        {
            return TypedResults.Ok(new ApplyResponse(set.Id, results));
        }
        var refused = results.Count(r => r.Outcome != "applied");
        return ApiProblems.Create(StatusCodes.Status409Conflict, "Some changes were refused",
            $"{refused} of {results.Count} changes were not applied; see results.",
            extensions: new Dictionary<string, object?> { ["change_set_id"] = set.Id, ["results"] = results });
    }

    /// <summary>
    /// <c>GET /rooms/{room_id}/change-sets?status=pending|all&amp;limit=&amp;before=</c>: the room's change sets, newest
    /// first, whoever proposed them (a member's AI generation, a member's coding agent over MCP), each with the policy's
    /// verdict and its review counts; <c>pending</c> (the default) keeps those with a change still to decide.
    /// </summary>
    internal static async Task<Results<Ok<ChangeSetListResponse>, ProblemHttpResult>> ListAsync(RoomScope scope, ChangeStore store,
        PolicyEvaluator policy, CancellationToken cancellationToken, string? status = null, string? limit = null, string? before = null)
    {
        if (status is not (null or "pending" or "all"))
        {
            return Problem(400, "Invalid status", "status is 'pending' or 'all'.");
        }
        var take = DefaultListLimit;
        if (limit is not null && (!int.TryParse(limit, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out take)
            || take is < 1 or > MaxListLimit))
        {
            return Problem(400, "Invalid limit", $"limit is between 1 and {MaxListLimit}.");
        }
        StoredChangeSet? after = null;
        if (before is not null)
        {
            after = Guid.TryParse(before, out var beforeId) ? await store.GetAsync(beforeId, cancellationToken) : null;
            if (after is null || after.RoomId != scope.RoomId)
            {
                return Problem(400, "Invalid before", "before is the change_set_id of a set of this room (next_before of the previous page).");
            }
        }
        // One more than asked tells whether there is a next page.
        var sets = await store.ListAsync(scope.RoomId, status is null or "pending", after, take + 1, cancellationToken);
        var page = sets.Take(take).Select(set => new ChangeSetSummary(set.Id, set.CreatedBy, set.CreatedByLogin ?? "", set.Source, set.Agent,
            set.Provider, set.Model, set.Instruction, set.CreatedAt,
            Verdict(policy, set),
            set.Changes.Count, Count(set, ChangeStatuses.Pending), Count(set, ChangeStatuses.Applied), Count(set, ChangeStatuses.Skipped),
            Count(set, ChangeStatuses.Refused), set.Changes.Select(c => c.FilePath).ToList())).ToList();
        return TypedResults.Ok(new ChangeSetListResponse(scope.RoomId, page, sets.Count > take ? page[^1].ChangeSetId : null));

        static int Count(StoredChangeSet set, string status) => set.Changes.Count(c => c.Status == status);
    }

    private const int DefaultListLimit = 20;
    private const int MaxListLimit = 100;

    /// <summary>The policy's verdict on a stored set, as when it was proposed: an agent's set has no context files (null, not none).</summary>
    private static PolicyDecision Verdict(PolicyEvaluator policy, StoredChangeSet set) =>
        policy.Evaluate(set.Changes.Select(c => new PolicyChange(c.FilePath, c.Type, c.Content, c.Diff)).ToList(),
            set.Source == ChangeSetSources.Mcp ? null : set.ContextFiles);

    private static ProblemHttpResult Problem(int status, string title, string detail) => ApiProblems.Create(status, title, detail);

    private static string Shorten(string? text) => text is null ? "" : text.Length <= 64 ? text : text[..64] + "…";

}
