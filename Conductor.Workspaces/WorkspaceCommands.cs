using System.Text.Json;
using System.Text.RegularExpressions;
using Conductor.Jobs;
using Microsoft.Extensions.Options;

namespace Conductor.Workspaces;

/// <summary>
/// The Api's side of the lifecycle: validates a request, records it, and puts the job the GitWorker runs on the
/// queue. A token is protected before it is stored and never goes into a job payload.
/// </summary>
public sealed partial class WorkspaceCommands(
    WorkspaceRepository repository,
    WorkspaceCredentials credentials,
    WorkspaceEvents events,
    IJobQueue jobs,
    IOptions<WorkspaceOptions> options)
{
    public const int MaxTokenLength = 4096;
    public const int MaxCommitMessageLength = 10_000;
    private readonly WorkspaceOptions _options = options.Value;

    /// <summary>Null when the room already has a workspace (409).</summary>
    public async Task<(WorkspaceRecord Workspace, JobRecord Job)?> CreateAsync(Guid roomId, Guid userId, string? repoUrl, string? token,
        string? baseBranch, CancellationToken cancellationToken)
    {
        var branch = string.IsNullOrWhiteSpace(baseBranch) ? "main" : baseBranch.Trim();
        if (!IsValidBranchName(branch))
        {
            throw new WorkspaceException(WorkspaceErrorKind.Invalid, "Invalid base branch", "base_branch must be a plain branch name (letters, digits, '.', '_', '-', '/').");
        }
        if (token is not null && (token.Length is 0 or > MaxTokenLength || token.Any(char.IsControl)))
        {
            throw new WorkspaceException(WorkspaceErrorKind.Invalid, "Invalid token", $"token must be 1 to {MaxTokenLength} printable characters.");
        }
        RemoteUrl remote;
        try
        {
            remote = await RemoteUrlValidator.ValidateAsync(repoUrl, _options, cancellationToken).ConfigureAwait(false);
        }
        catch (RemoteUrlException ex)
        {
            throw new WorkspaceException(WorkspaceErrorKind.Invalid, "Invalid repository URL", ex.Message);
        }

        // An SSH remote authenticates with the deployment's key; a token (given, or the requester's GitHub sign-in) is not used or kept.
        var protectedToken = token is null || remote.IsSsh ? null : credentials.Protect(token);
        if (!await repository.TryCreateAsync(roomId, remote, branch, userId, protectedToken, cancellationToken).ConfigureAwait(false))
        {
            return null;
        }
        var job = await jobs.EnqueueAsync(new NewJob(roomId, WorkspaceJobKinds.Create, JsonSerializer.SerializeToElement(new { room_id = roomId }))
        {
            ConcurrencyKey = WorkspaceJobKinds.ConcurrencyKey(roomId),
        }, cancellationToken).ConfigureAwait(false);
        await repository.SetJobAsync(roomId, job.Id, cancellationToken).ConfigureAwait(false);
        await events.PublishStatusAsync(roomId, WorkspaceStatus.Creating, null, null, cancellationToken).ConfigureAwait(false);
        var workspace = await repository.GetAsync(roomId, cancellationToken).ConfigureAwait(false);
        return (workspace!, job);
    }

    public async Task<JobRecord> CommitAsync(Guid roomId, Guid userId, string login, string? message, bool push, CancellationToken cancellationToken)
    {
        var text = message?.Trim() ?? "";
        if (text.Length == 0 || text.Length > MaxCommitMessageLength || text.Contains('\0', StringComparison.Ordinal))
        {
            throw new WorkspaceException(WorkspaceErrorKind.Invalid, "Invalid commit message", $"message must be 1 to {MaxCommitMessageLength} characters without NUL.");
        }
        await RequireReadyAsync(roomId, cancellationToken).ConfigureAwait(false);
        return await jobs.EnqueueAsync(new NewJob(roomId, WorkspaceJobKinds.Commit,
            JsonSerializer.SerializeToElement(new CommitJobPayload(text, push, userId, login)))
        {
            ConcurrencyKey = WorkspaceJobKinds.ConcurrencyKey(roomId),
            // A commit that failed for a reason a retry can fix (a lock wait, Postgres) may retry; a push is reported, not retried.
            MaxAttempts = 3,
        }, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Marks the workspace deleting and queues its removal; null when there is none.</summary>
    public async Task<JobRecord?> DeleteAsync(Guid roomId, CancellationToken cancellationToken)
    {
        var workspace = await repository.GetAsync(roomId, cancellationToken).ConfigureAwait(false);
        if (workspace is null)
        {
            return null;
        }
        await repository.SetStatusAsync(roomId, WorkspaceStatus.Deleting, null, null,
            [WorkspaceStatus.Ready, WorkspaceStatus.Failed, WorkspaceStatus.Creating, WorkspaceStatus.Deleting], cancellationToken).ConfigureAwait(false);
        await events.PublishStatusAsync(roomId, WorkspaceStatus.Deleting, null, null, cancellationToken).ConfigureAwait(false);
        return await jobs.EnqueueAsync(new NewJob(roomId, WorkspaceJobKinds.Delete, JsonSerializer.SerializeToElement(new { room_id = roomId }))
        {
            ConcurrencyKey = WorkspaceJobKinds.ConcurrencyKey(roomId),
        }, cancellationToken).ConfigureAwait(false);
    }

    private async Task RequireReadyAsync(Guid roomId, CancellationToken cancellationToken)
    {
        var workspace = await repository.GetAsync(roomId, cancellationToken).ConfigureAwait(false) ?? throw WorkspaceException.NoWorkspace();
        if (workspace.Status != WorkspaceStatus.Ready)
        {
            throw WorkspaceException.NotReady(workspace.Status);
        }
    }

    /// <summary>A conservative subset of git's ref-name rules: nothing git could read as an option or a revision expression.</summary>
    public static bool IsValidBranchName(string name) =>
        name.Length <= 200 && BranchName().IsMatch(name) && !name.Contains("..", StringComparison.Ordinal)
        && !name.Contains("//", StringComparison.Ordinal) && !name.EndsWith(".lock", StringComparison.Ordinal) && !name.EndsWith('/') && !name.EndsWith('.');

    [GeneratedRegex("^[A-Za-z0-9_][A-Za-z0-9._/-]*$")]
    private static partial Regex BranchName();
}
