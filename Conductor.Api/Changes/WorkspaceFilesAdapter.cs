using System.Text;
using Conductor.Workspaces;
using Conductor.Workspaces.Files;

namespace Conductor.Api.Changes;

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
        var relative = WorkspacePaths.Normalize(path, tidy: true);
        try
        {
            var content = await files.ReadAsync(roomId, relative, cancellationToken);
            return content.Encoding == "utf-8"
                ? new WorkspaceFile(content.Path, content.Content, content.Etag)
                : throw WorkspacePathException.Invalid($"'{relative}' is not UTF-8 text.");
        }
        catch (WorkspacePathException ex) when (ex.Kind == WorkspaceErrorKind.NotFound)
        {
            return null;
        }
    }

    public async Task<WorkspaceWriteResult> WriteAsync(Guid roomId, string path, string content, string? ifMatchETag, Guid userId,
        CancellationToken cancellationToken)
    {
        try
        {
            var written = await files.WriteAsync(roomId, WorkspacePaths.Normalize(path, tidy: true), Encoding.UTF8.GetBytes(content), ifMatchETag, userId,
                cancellationToken, ifNoneMatch: ifMatchETag is null ? "*" : null);
            return new WorkspaceWriteResult(WorkspaceWriteStatus.Written, written.Etag);
        }
        catch (WorkspaceException ex) when (ex.Kind == WorkspaceErrorKind.PreconditionFailed)
        {
            return new WorkspaceWriteResult(WorkspaceWriteStatus.PreconditionFailed, (await ReadAsync(roomId, path, cancellationToken))?.ETag);
        }
    }

    public async Task<WorkspaceWriteResult> DeleteAsync(Guid roomId, string path, string ifMatchETag, Guid userId, CancellationToken cancellationToken)
    {
        try
        {
            await files.DeleteAsync(roomId, WorkspacePaths.Normalize(path, tidy: true), userId, cancellationToken, ifMatch: ifMatchETag);
            return new WorkspaceWriteResult(WorkspaceWriteStatus.Written, null);
        }
        catch (WorkspacePathException ex) when (ex.Kind == WorkspaceErrorKind.NotFound)
        {
            return new WorkspaceWriteResult(WorkspaceWriteStatus.PreconditionFailed, null);
        }
        catch (WorkspaceException ex) when (ex.Kind == WorkspaceErrorKind.PreconditionFailed)
        {
            return new WorkspaceWriteResult(WorkspaceWriteStatus.PreconditionFailed, (await ReadAsync(roomId, path, cancellationToken))?.ETag);
        }
    }
}
