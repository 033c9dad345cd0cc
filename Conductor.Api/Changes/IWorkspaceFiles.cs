namespace Conductor.Api.Changes;

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
