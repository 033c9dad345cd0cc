using System.Text.Json.Serialization;
using Conductor.Api.Ai;
using Conductor.Api.Audit;
using Conductor.Api.Auth;
using Conductor.Api.Rooms;
using Conductor.Workspaces;
using Conductor.Workspaces.Files;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Npgsql;

namespace Conductor.Api.Changes;

public sealed record GenerateChangesRequest(Guid? RoomId, string? Instruction, IReadOnlyList<string>? Files);

public sealed record ChangeView(Guid Id, string FilePath, string Type,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Content, string Diff, string Rationale, string Status)
{
    public static ChangeView From(StoredChange change) =>
        new(change.Id, change.FilePath, change.Type, change.Content, change.Diff, change.Rationale, change.Status);
}

public sealed record ChangeSetResponse(Guid ChangeSetId, Guid RoomId, string Agent, string Provider, string Model,
    IReadOnlyList<string> ContextFiles, IReadOnlyList<ChangeView> Changes)
{
    public static ChangeSetResponse From(StoredChangeSet set) =>
        new(set.Id, set.RoomId, set.Agent, set.Provider, set.Model, set.ContextFiles, set.Changes.Select(ChangeView.From).ToList());
}

public sealed record PolicyChangeInput(string? FilePath, string? Type, string? Content, string? Diff);

public sealed record EvaluatePolicyRequest(Guid? ChangeSetId, IReadOnlyList<PolicyChangeInput>? Changes, IReadOnlyList<string>? ContextFiles);

public sealed record ApplyChangesRequest(IReadOnlyList<Guid>? ChangeIds);

public sealed record ApplyResult(Guid ChangeId, string FilePath, string Outcome, int Status,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Detail);

public sealed record ApplyResponse(Guid ChangeSetId, IReadOnlyList<ApplyResult> Results);

/// <summary><c>Changes:</c> limits of change generation.</summary>
public sealed class ChangeOptions
{
    public const string Section = "Changes";
    public int MaxInstructionChars { get; set; } = 4000;
    public int MaxContextFiles { get; set; } = 20;
    /// <summary>Total characters of context file content sent to the provider.</summary>
    public int MaxContextChars { get; set; } = 400_000;
}

public static partial class ChangesApi
{
    public static IEndpointRouteBuilder MapChangesApi(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapPost("/generate-changes", GenerateAsync).WithTags("Changes").WithName("GenerateChanges").RequireAuthorization();
        var changes = endpoints.MapGroup("/changes").WithTags("Changes").RequireAuthorization();
        changes.MapGet("/{changeSetId}", GetAsync).WithName("GetChangeSet");
        changes.MapPost("/{changeSetId}/apply", ApplyAsync).WithName("ApplyChanges");
        endpoints.MapPost("/policy/evaluate-auto-apply", EvaluateAsync).WithTags("Changes").WithName("EvaluateAutoApply").RequireAuthorization();
        return endpoints;
    }

    internal static async Task<Results<Ok<ChangeSetResponse>, ProblemHttpResult>> GenerateAsync(GenerateChangesRequest? request, HttpContext context,
        IRoomMembership membership, AiSelections selections, IWorkspaceFiles workspace, ChangeGenerator generator, ChangeStore store,
        IOptions<ChangeOptions> options, TimeProvider time, CancellationToken cancellationToken)
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

        async Task<IReadOnlyList<string>> CheckAsync(IReadOnlyList<ProposedChange> proposed, CancellationToken ct)
        {
            var errors = new List<string>();
            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (var change in proposed)
            {
                string path;
                try
                {
                    path = WorkspacePaths.Normalize(change.FilePath, tidy: true);
                }
                catch (WorkspaceException ex)
                {
                    errors.Add($"{Shorten(change.FilePath)}: {ex.Message}");
                    continue;
                }
                if (!seen.Add(path))
                {
                    errors.Add($"{path} is changed twice");
                    continue;
                }
                if (!bases.TryGetValue(path, out var current))
                {
                    try
                    {
                        current = await workspace.ReadAsync(roomId, path, ct);
                    }
                    catch (WorkspaceException ex)
                    {
                        errors.Add($"{path}: {ex.Message}");
                        continue;
                    }
                    bases[path] = current;
                }
                if (change.Type == ChangeTypes.Create && current is not null)
                {
                    errors.Add($"{path} already exists, so it cannot be created (use modify)");
                }
                else if (change.Type != ChangeTypes.Create && current is null)
                {
                    errors.Add($"{path} does not exist, so it cannot be {(change.Type == ChangeTypes.Delete ? "deleted" : "modified")}");
                }
            }
            return errors;
        }

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
            return TypedResults.Ok(policy.Evaluate(
                set.Changes.Select(c => new PolicyChange(c.FilePath, c.Type, c.Content, c.Diff)).ToList(), set.ContextFiles));
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
        HttpContext context, IRoomMembership membership, ChangeStore store, IWorkspaceFiles workspace, AuditLog audit,
        ILoggerFactory loggers, CancellationToken cancellationToken)
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

        var userId = context.User.GetUserId();
        var logger = loggers.CreateLogger("Conductor.Api.Changes.Apply");
        var results = new List<ApplyResult>();
        // In the set's order, whatever order the ids came in: later changes may build on earlier ones.
        foreach (var change in ids.Select(i => byId[i]).OrderBy(c => c.Ordinal))
        {
            results.Add(await ApplyOneAsync(set, change, userId, store.DataSource, workspace, audit, logger, cancellationToken));
        }
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
    /// Applies one change under a row lock on it (so two appliers cannot both apply it), writing only if the file is
    /// still as it was read at generation; the outcome is audited in the same transaction as the change's new status.
    /// </summary>
    private static async Task<ApplyResult> ApplyOneAsync(StoredChangeSet set, StoredChange change, Guid userId, NpgsqlDataSource dataSource,
        IWorkspaceFiles workspace, AuditLog audit, ILogger logger, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        string status;
        await using (var lockRow = new NpgsqlCommand("SELECT status FROM changes WHERE id = $1 FOR UPDATE", connection, transaction))
        {
            lockRow.Parameters.Add(new NpgsqlParameter { Value = change.Id });
            status = (string)(await lockRow.ExecuteScalarAsync(cancellationToken))!;
        }

        string? refusal = null;
        if (status == "applied")
        {
            refusal = "the change was already applied";
        }
        else
        {
            try
            {
                var written = change.Type == ChangeTypes.Delete
                    ? await workspace.DeleteAsync(set.RoomId, change.FilePath, change.BaseETag!, userId, cancellationToken)
                    : await workspace.WriteAsync(set.RoomId, change.FilePath, change.Content!, change.BaseETag, userId, cancellationToken);
                if (written.Status == WorkspaceWriteStatus.PreconditionFailed)
                {
                    refusal = written.ETag is null ? "the file was deleted since the change was generated"
                        : change.BaseETag is null ? "the file was created since the change was generated"
                        : "the file changed since the change was generated";
                }
            }
            catch (WorkspaceException ex)
            {
                refusal = ex.Message;
            }
        }

        if (refusal is null)
        {
            await using var update = new NpgsqlCommand(
                "UPDATE changes SET status = 'applied', applied_by = $2, applied_at = now() WHERE id = $1", connection, transaction);
            update.Parameters.Add(new NpgsqlParameter { Value = change.Id });
            update.Parameters.Add(new NpgsqlParameter { Value = userId });
            await update.ExecuteNonQueryAsync(cancellationToken);
        }
        await audit.AppendAsync(set.RoomId, userId, refusal is null ? AuditActions.Applied : AuditActions.Refused, "server", set.Id, change.Id,
            change.FilePath, refusal, cancellationToken, connection, transaction);
        await transaction.CommitAsync(cancellationToken);
        LogApplied(logger, change.Id, set.Id, refusal is null ? "applied" : "refused", refusal);
        return refusal is null
            ? new ApplyResult(change.Id, change.FilePath, "applied", StatusCodes.Status200OK, null)
            : new ApplyResult(change.Id, change.FilePath, "refused", StatusCodes.Status409Conflict, refusal);
    }

    private static ProblemHttpResult Problem(int status, string title, string detail) => ApiProblems.Create(status, title, detail);

    private static string Shorten(string? text) => text is null ? "" : text.Length <= 64 ? text : text[..64] + "…";

    [LoggerMessage(Level = LogLevel.Information, Message = "Change {ChangeId} of set {ChangeSetId}: {Outcome} {Reason}")]
    private static partial void LogApplied(ILogger logger, Guid changeId, Guid changeSetId, string outcome, string? reason);
}

public static class ChangesServiceCollectionExtensions
{
    public static IHostApplicationBuilder AddConductorChanges(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<ChangeOptions>().Bind(builder.Configuration.GetSection(ChangeOptions.Section))
            .Validate(o => o.MaxInstructionChars > 0 && o.MaxContextFiles > 0 && o.MaxContextChars > 0, "Changes limits must be positive.")
            .ValidateOnStart();
        builder.Services.AddOptions<PolicyOptions>().Bind(builder.Configuration.GetSection(PolicyOptions.Section)).ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<PolicyOptions>, PolicyOptionsValidator>();
        builder.Services.AddSingleton<PolicyEvaluator>();
        builder.Services.AddSingleton<ChangeGenerator>();
        builder.Services.AddSingleton<ChangeStore>();
        builder.Services.AddSingleton<AuditLog>();
        // Over the workspace feature's file service (AddConductorWorkspaces).
        builder.Services.TryAddSingleton<IWorkspaceFiles, WorkspaceFilesAdapter>();
        return builder;
    }
}
