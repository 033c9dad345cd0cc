using System.Text;
using Conductor.Workspaces;
using Conductor.Workspaces.Files;

namespace Conductor.Api.Changes;

/// <summary>A text file of a room's worktree as read: its content and the etag a later write must match.</summary>
public sealed record WorkspaceFile(string Path, string Content, string ETag);

public enum WorkspaceWriteStatus { Written, PreconditionFailed }

/// <summary>The outcome of a conditional write: the new etag, or the current one when the precondition failed (null: absent).</summary>
public sealed record WorkspaceWriteResult(WorkspaceWriteStatus Status, string? ETag);

/// <summary>A path a client gave that may not be read or written (outside the worktree, inside .git, malformed, too large).</summary>
public sealed class WorkspacePathException(string path, string reason) : Exception($"'{path}': {reason}")
{
    public string Path { get; } = path;
    public string Reason { get; } = reason;
}

/// <summary>
/// What changes need from a room's workspace: read with an etag, write and delete only if the file is still as read.
/// <see cref="WorkspaceFilesAdapter"/> implements it over the workspace feature's file service.
/// </summary>
public interface IWorkspaceFiles
{
    /// <summary>The file, or null when it does not exist.</summary>
    Task<WorkspaceFile?> ReadAsync(Guid roomId, string path, CancellationToken cancellationToken);

    /// <summary>Writes when the file's current etag is <paramref name="ifMatchETag"/>; null means "only if it does not exist".</summary>
    Task<WorkspaceWriteResult> WriteAsync(Guid roomId, string path, string content, string? ifMatchETag, Guid userId, CancellationToken cancellationToken);

    /// <summary>Deletes when the file's current etag is <paramref name="ifMatchETag"/>.</summary>
    Task<WorkspaceWriteResult> DeleteAsync(Guid roomId, string path, string ifMatchETag, Guid userId, CancellationToken cancellationToken);
}

/// <summary>Normalises client paths to the one form stored and compared: relative, '/'-separated, no '.', '..' or .git.</summary>
public static class WorkspacePath
{
    public const int MaxLength = 1024;

    public static string Normalize(string? path)
    {
        if (string.IsNullOrWhiteSpace(path))
        {
            throw new WorkspacePathException(path ?? "", "the path is empty");
        }
        if (path.Length > MaxLength || path.Any(c => char.IsControl(c)))
        {
            throw new WorkspacePathException(Shorten(path), "the path is too long or holds control characters");
        }
        var unified = path.Replace('\\', '/');
        if (unified.StartsWith('/') || (unified.Length > 1 && unified[1] == ':'))
        {
            throw new WorkspacePathException(Shorten(path), "the path must be relative to the workspace");
        }
        var segments = unified.Split('/', StringSplitOptions.RemoveEmptyEntries).Where(s => s != ".").ToList();
        if (segments.Count == 0 || segments.Any(s => s == ".."))
        {
            throw new WorkspacePathException(Shorten(path), "the path leaves the workspace");
        }
        if (segments.Any(s => s.Equals(".git", StringComparison.OrdinalIgnoreCase)))
        {
            throw new WorkspacePathException(Shorten(path), "git's own files are not part of the workspace");
        }
        return string.Join('/', segments);
    }

    private static string Shorten(string path) => path.Length <= 128 ? path : path[..128] + "…";
}

/// <summary>
/// <see cref="IWorkspaceFiles"/> over <see cref="WorkspaceFileService"/> (the room's worktree: its lock, path checks,
/// atomic writes and file-changed events). Its reads answer 404 for a missing file, which is "absent" here; its writes
/// take If-Match (modify, delete) and If-None-Match: * (create), checked under the room's lock, so nothing can slip
/// in between the check and the change.
/// </summary>
public sealed class WorkspaceFilesAdapter(WorkspaceFileService files) : IWorkspaceFiles
{
    public async Task<WorkspaceFile?> ReadAsync(Guid roomId, string path, CancellationToken cancellationToken)
    {
        var relative = WorkspacePath.Normalize(path);
        try
        {
            var content = await files.ReadAsync(roomId, relative, cancellationToken);
            return content.Encoding == "utf-8"
                ? new WorkspaceFile(content.Path, content.Content, content.Etag)
                : throw new WorkspacePathException(relative, "the file is not UTF-8 text");
        }
        catch (Conductor.Workspaces.Files.WorkspacePathException ex) when (ex.StatusCode == StatusCodes.Status404NotFound)
        {
            return null;
        }
        catch (WorkspaceProblemException ex)
        {
            throw new WorkspacePathException(relative, ex.Message);
        }
    }

    public async Task<WorkspaceWriteResult> WriteAsync(Guid roomId, string path, string content, string? ifMatchETag, Guid userId,
        CancellationToken cancellationToken)
    {
        try
        {
            var written = await files.WriteAsync(roomId, WorkspacePath.Normalize(path), Encoding.UTF8.GetBytes(content), ifMatchETag, userId,
                cancellationToken, ifNoneMatch: ifMatchETag is null ? "*" : null);
            return new WorkspaceWriteResult(WorkspaceWriteStatus.Written, written.Etag);
        }
        catch (WorkspaceProblemException ex) when (ex.StatusCode == StatusCodes.Status412PreconditionFailed)
        {
            return new WorkspaceWriteResult(WorkspaceWriteStatus.PreconditionFailed, (await ReadAsync(roomId, path, cancellationToken))?.ETag);
        }
        catch (WorkspaceProblemException ex)
        {
            throw new WorkspacePathException(path, ex.Message);
        }
    }

    public async Task<WorkspaceWriteResult> DeleteAsync(Guid roomId, string path, string ifMatchETag, Guid userId, CancellationToken cancellationToken)
    {
        try
        {
            await files.DeleteAsync(roomId, WorkspacePath.Normalize(path), userId, cancellationToken, ifMatch: ifMatchETag);
            return new WorkspaceWriteResult(WorkspaceWriteStatus.Written, null);
        }
        catch (Conductor.Workspaces.Files.WorkspacePathException ex) when (ex.StatusCode == StatusCodes.Status404NotFound)
        {
            return new WorkspaceWriteResult(WorkspaceWriteStatus.PreconditionFailed, null);
        }
        catch (WorkspaceProblemException ex) when (ex.StatusCode == StatusCodes.Status412PreconditionFailed)
        {
            return new WorkspaceWriteResult(WorkspaceWriteStatus.PreconditionFailed, (await ReadAsync(roomId, path, cancellationToken))?.ETag);
        }
        catch (WorkspaceProblemException ex)
        {
            throw new WorkspacePathException(path, ex.Message);
        }
    }
}
