using System.Security.Claims;
using System.Text.Json;
using Conductor.Api.Auth;
using Conductor.Api.Auth.GitHub;
using Conductor.Api.Rooms;
using Conductor.Jobs;
using Conductor.Workspaces;
using Conductor.Workspaces.Files;
using Conductor.Workspaces.Search;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;

namespace Conductor.Api.Workspaces;

/// <summary>
/// A room's shared git workspace: lifecycle (jobs the GitWorker runs), files (read and written here, on the volume
/// the Api shares with the GitWorker), commit and push, and code search. Every route checks room membership;
/// writes need a live room, DELETE of the workspace needs the host.
/// </summary>
public static class WorkspacesApi
{
    public static RouteGroupBuilder MapWorkspacesApi(this IEndpointRouteBuilder endpoints)
    {
        var group = endpoints.MapGroup("/workspace").WithTags("Workspaces");
        group.AddEndpointFilter(ProblemFilter);
        group.MapPost("/create", CreateAsync).WithName("CreateWorkspace");
        group.MapGet("/{room_id}", GetAsync).WithName("GetWorkspace").RequireRoomAccess();
        // Host only, but allowed in an ended room: removing the checkout is how a finished session cleans up.
        group.MapDelete("/{room_id}", DeleteAsync).WithName("DeleteWorkspace").RequireRoomAccess(RoomRole.Host);
        group.MapGet("/{room_id}/files", ListFilesAsync).WithName("ListWorkspaceFiles").RequireRoomAccess();
        group.MapGet("/{room_id}/file", ReadFileAsync).WithName("ReadWorkspaceFile").RequireRoomAccess();
        group.MapPut("/{room_id}/file", WriteFileAsync).WithName("WriteWorkspaceFile").RequireRoomAccess(write: true);
        group.MapDelete("/{room_id}/file", DeleteFileAsync).WithName("DeleteWorkspaceFile").RequireRoomAccess(write: true);
        group.MapPost("/{room_id}/rename", RenameAsync).WithName("RenameWorkspaceFile").RequireRoomAccess(write: true);
        group.MapPost("/{room_id}/commit", CommitAsync).WithName("CommitWorkspace").RequireRoomAccess(write: true);
        group.MapGet("/{room_id}/search", SearchAsync).WithName("SearchWorkspace").RequireRoomAccess();
        return group;
    }

    internal static async Task<Results<Accepted<WorkspaceAccepted>, Created<WorkspaceResponse>, ProblemHttpResult>> CreateAsync(CreateWorkspaceRequest request, int? wait, ClaimsPrincipal user,
        [FromServices] IRoomMembership membership, [FromServices] WorkspaceCommands commands, [FromServices] WorkspaceRepository repository,
        [FromServices] IJobQueue jobs, [FromServices] IGitHubTokenStore gitHubTokens, [FromServices] IOptions<WorkspaceOptions> options,
        CancellationToken cancellationToken)
    {
        if (request.RoomId is not { } roomId)
        {
            return Problem(400, "Missing room_id", "room_id is required.");
        }
        var waitFor = ParseWait(wait, options.Value);
        if (await membership.CheckAsync(roomId, user, cancellationToken, write: true) is { } denied)
        {
            return denied;
        }
        // Without a token, the requester's own GitHub sign-in (if any) is the credential: never another member's.
        var token = request.Token ?? await gitHubTokens.GetTokenAsync(user.GetUserId(), cancellationToken);
        var created = await commands.CreateAsync(roomId, user.GetUserId(), request.RepoUrl, token, request.BaseBranch, cancellationToken);
        if (created is not { } accepted)
        {
            return Problem(409, "Workspace exists", "This room already has a workspace; delete it first (host only).");
        }
        var accepted202 = TypedResults.Accepted($"/workspace/{roomId:D}", new WorkspaceAccepted(roomId, accepted.Job.Id, WorkspaceStatus.Creating));
        if (waitFor is null)
        {
            return accepted202;
        }
        var job = await WaitForJobAsync(jobs, accepted.Job.Id, waitFor.Value, cancellationToken);
        var workspace = await repository.GetAsync(roomId, cancellationToken);
        if (job?.Status == JobStatus.Succeeded && workspace is { Status: WorkspaceStatus.Ready })
        {
            return TypedResults.Created($"/workspace/{roomId:D}", WorkspaceResponse.From(workspace));
        }
        if (job is { } finished && finished.Status.IsFinal())
        {
            return Problem(422, "Workspace creation failed", workspace?.Error ?? finished.Error ?? "The clone failed.");
        }
        return accepted202;
    }

    internal static async Task<Ok<WorkspaceResponse>> GetAsync(RoomScope scope, ClaimsPrincipal user, [FromServices] WorkspaceRepository repository, CancellationToken cancellationToken)
    {
        var room = scope.RoomId;
        var workspace = await repository.GetAsync(room, cancellationToken) ?? throw WorkspaceException.NoWorkspace();
        return TypedResults.Ok(WorkspaceResponse.From(workspace));
    }

    internal static async Task<Results<NoContent, Accepted<JobAccepted>>> DeleteAsync(RoomScope scope, int? wait, ClaimsPrincipal user, [FromServices] WorkspaceCommands commands, [FromServices] IJobQueue jobs, [FromServices] IOptions<WorkspaceOptions> options,
        CancellationToken cancellationToken)
    {
        var room = scope.RoomId;
        var waitFor = ParseWait(wait, options.Value);
        var job = await commands.DeleteAsync(room, cancellationToken) ?? throw WorkspaceException.NoWorkspace();
        if (waitFor is not null && (await WaitForJobAsync(jobs, job.Id, waitFor.Value, cancellationToken))?.Status == JobStatus.Succeeded)
        {
            return TypedResults.NoContent();
        }
        return TypedResults.Accepted($"/jobs/{job.Id:D}", new JobAccepted(room, job.Id, WorkspaceStatus.Deleting));
    }

    internal static async Task<Ok<IReadOnlyList<FileEntry>>> ListFilesAsync(RoomScope scope, string? path, bool? recursive, [FromQuery(Name = "worktree")] string? worktree, ClaimsPrincipal user,
        [FromServices] WorkspaceFileService files, CancellationToken cancellationToken)
    {
        var room = scope.RoomId;
        return TypedResults.Ok(await files.ListAsync(WorktreeQuery.Parse(room, worktree, user), path, recursive ?? false, cancellationToken));
    }

    internal static async Task<Ok<FileContent>> ReadFileAsync(RoomScope scope, string? path, [FromQuery(Name = "worktree")] string? worktree, ClaimsPrincipal user, HttpResponse response,
        [FromServices] WorkspaceFileService files, CancellationToken cancellationToken)
    {
        var room = scope.RoomId;
        var content = await files.ReadAsync(WorktreeQuery.Parse(room, worktree, user), path, cancellationToken);
        response.Headers.ETag = content.Etag;
        return TypedResults.Ok(content);
    }

    internal static async Task<Ok<WriteFileResponse>> WriteFileAsync(RoomScope scope, string? path, WriteFileRequest request, [FromQuery(Name = "worktree")] string? worktree, ClaimsPrincipal user,
        [FromHeader(Name = "If-Match")] string? ifMatch, [FromHeader(Name = "If-None-Match")] string? ifNoneMatch, HttpResponse response,
        [FromServices] WorkspaceFileService files, CancellationToken cancellationToken)
    {
        var room = scope.RoomId;
        var bytes = Decode(request, files.MaxFileBytes);
        var written = await files.WriteAsync(WorktreeQuery.Parse(room, worktree, user), path, bytes, ifMatch, user.GetUserId(), cancellationToken, ifNoneMatch);
        response.Headers.ETag = written.Etag;
        return TypedResults.Ok(new WriteFileResponse(written.Path, written.Size, written.Etag));
    }

    internal static async Task<NoContent> DeleteFileAsync(RoomScope scope, string? path, [FromQuery(Name = "worktree")] string? worktree, ClaimsPrincipal user,
        [FromHeader(Name = "If-Match")] string? ifMatch,
        [FromServices] WorkspaceFileService files, CancellationToken cancellationToken)
    {
        var room = scope.RoomId;
        await files.DeleteAsync(WorktreeQuery.Parse(room, worktree, user), path, user.GetUserId(), cancellationToken, ifMatch);
        return TypedResults.NoContent();
    }

    internal static async Task<Ok<RenameResponse>> RenameAsync(RoomScope scope, RenameRequest request, [FromQuery(Name = "worktree")] string? worktree, ClaimsPrincipal user,
        [FromServices] WorkspaceFileService files, CancellationToken cancellationToken)
    {
        var room = scope.RoomId;
        return TypedResults.Ok(new RenameResponse(await files.RenameAsync(WorktreeQuery.Parse(room, worktree, user), request.From, request.To, user.GetUserId(), cancellationToken)));
    }

    internal static async Task<Results<Ok<CommitResponse>, Accepted<JobAccepted>, ProblemHttpResult>> CommitAsync(RoomScope scope, CommitRequest request, int? wait, ClaimsPrincipal user,
        [FromServices] WorkspaceCommands commands, [FromServices] IJobQueue jobs,
        [FromServices] IOptions<WorkspaceOptions> options, CancellationToken cancellationToken)
    {
        var room = scope.RoomId;
        var waitFor = ParseWait(wait, options.Value);
        var job = await commands.CommitAsync(room, user.GetUserId(), user.GetLogin(), request.Message, request.Push ?? true, cancellationToken);
        if (waitFor is not null)
        {
            var done = await WaitForJobAsync(jobs, job.Id, waitFor.Value, cancellationToken);
            if (done is { Status: JobStatus.Succeeded, Result: { } result })
            {
                var outcome = result.Deserialize<CommitOutcome>(JobResultJson)!;
                return TypedResults.Ok(CommitResponse.From(outcome));
            }
            if (done is { } failed && failed.Status.IsFinal())
            {
                return Problem(422, "Commit failed", failed.Error ?? "The commit job failed.");
            }
        }
        return TypedResults.Accepted($"/jobs/{job.Id:D}", new JobAccepted(room, job.Id, job.Status.ToName()));
    }

    internal static async Task<Ok<IReadOnlyList<SearchMatch>>> SearchAsync(RoomScope scope, string? q,
        [FromQuery(Name = "max_results")] int? maxResults, [FromQuery(Name = "case_sensitive")] bool? caseSensitive, bool? regex,
        [FromQuery(Name = "whole_word")] bool? wholeWord,
        string[]? include, string[]? exclude, [FromQuery(Name = "worktree")] string? worktree, ClaimsPrincipal user, [FromServices] WorkspaceFileService files, [FromServices] SearchIndexes search, [FromServices] IOptions<WorkspaceOptions> options,
        CancellationToken cancellationToken)
    {
        var room = scope.RoomId;
        var prepared = CodeSearch.Prepare(new SearchQuery(q ?? "")
        {
            CaseSensitive = caseSensitive ?? false,
            Regex = regex ?? false,
            WholeWord = wholeWord ?? false,
            Include = include ?? [],
            Exclude = exclude ?? [],
            MaxResults = maxResults ?? CodeSearch.DefaultMaxResults,
        }, options.Value.RegexTimeout);
        var folder = await files.GetWorktreeAsync(WorktreeQuery.Parse(room, worktree, user), cancellationToken);
        return TypedResults.Ok(await search.SearchAsync(folder, prepared, cancellationToken));
    }

    private static readonly JsonSerializerOptions JobResultJson = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    private static byte[] Decode(WriteFileRequest request, long maxBytes)
    {
        if (request.Content is null)
        {
            throw new WorkspaceException(WorkspaceErrorKind.Invalid, "Missing content", "content is required (use \"\" for an empty file).");
        }
        // A quick bound before decoding: base64 is 4/3 of the bytes, UTF-8 at least one byte per character.
        var encoding = request.Encoding ?? "utf-8";
        var upperBound = encoding == "base64" ? (long)request.Content.Length * 3 / 4 : request.Content.Length;
        if (upperBound > maxBytes && encoding != "utf-8")
        {
            throw new WorkspaceException(WorkspaceErrorKind.TooLarge, "File too large", $"The content is larger than {maxBytes} bytes.");
        }
        switch (encoding)
        {
            case "utf-8":
                var bytes = System.Text.Encoding.UTF8.GetBytes(request.Content);
                return bytes.LongLength > maxBytes ? throw new WorkspaceException(WorkspaceErrorKind.TooLarge, "File too large", $"The content is larger than {maxBytes} bytes.") : bytes;
            case "base64":
                try
                {
                    return Convert.FromBase64String(request.Content);
                }
                catch (FormatException)
                {
                    throw new WorkspaceException(WorkspaceErrorKind.Invalid, "Invalid content", "content is not valid base64.");
                }
            default:
                throw new WorkspaceException(WorkspaceErrorKind.Invalid, "Invalid encoding", "encoding must be \"utf-8\" or \"base64\".");
        }
    }

    private static async Task<JobRecord?> WaitForJobAsync(IJobQueue jobs, Guid jobId, TimeSpan wait, CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow + wait;
        JobRecord? job;
        do
        {
            job = await jobs.GetAsync(jobId, cancellationToken);
            if (job is null || job.Status.IsFinal())
            {
                return job;
            }
            await Task.Delay(TimeSpan.FromMilliseconds(100), cancellationToken);
        }
        while (DateTime.UtcNow < deadline);
        return job;
    }

    private static TimeSpan? ParseWait(int? wait, WorkspaceOptions options) => wait switch
    {
        null => null,
        < 0 => throw new WorkspaceException(WorkspaceErrorKind.Invalid, "Invalid wait", "wait must be a number of seconds, 0 or more."),
        _ when wait > options.MaxWaitSeconds => throw new WorkspaceException(WorkspaceErrorKind.Invalid, "Invalid wait", $"wait may be at most {options.MaxWaitSeconds} seconds."),
        _ => TimeSpan.FromSeconds(wait.Value),
    };

    private static ProblemHttpResult Problem(int status, string title, string detail) => ApiProblems.Create(status, title, detail);

    /// <summary>Turns the workspace layer's refusals (bad path, no workspace, 412, 413) into problem details.</summary>
    internal static async ValueTask<object?> ProblemFilter(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        try
        {
            return await next(context);
        }
        catch (WorkspaceException ex)
        {
            return ApiProblems.ForWorkspace(ex);
        }
    }
}
