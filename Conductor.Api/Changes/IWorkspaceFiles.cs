using System.Security.Cryptography;
using System.Text;
using System.Collections.Concurrent;
using Microsoft.Extensions.Options;

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
/// The workspace feature's file service implements it over the room's worktree; <see cref="DirectoryWorkspaceFiles"/>
/// is the same contract over a plain directory per room.
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

public sealed class DirectoryWorkspaceOptions
{
    /// <summary>The workspace volume (<c>Workspaces:Root</c>); a room's files live in <c>worktrees/{room_id}</c> under it.</summary>
    public string Root { get; set; } = "";

    /// <summary>Largest file read or written (10 MB).</summary>
    public long MaxFileBytes { get; set; } = 10 * 1024 * 1024;
}

/// <summary>
/// <see cref="IWorkspaceFiles"/> over <c>{Root}/worktrees/{room_id}</c>. Etags are the SHA-256 of the bytes; a write
/// compares and replaces under a per-file lock, through a temporary file and a rename, so a reader never sees half a file.
/// Paths are checked after symlinks are resolved.
/// </summary>
public sealed class DirectoryWorkspaceFiles(IOptions<DirectoryWorkspaceOptions> options) : IWorkspaceFiles
{
    private static readonly UTF8Encoding Utf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);
    private readonly ConcurrentDictionary<string, SemaphoreSlim> _locks = new(StringComparer.Ordinal);

    public async Task<WorkspaceFile?> ReadAsync(Guid roomId, string path, CancellationToken cancellationToken)
    {
        var (relative, full) = Resolve(roomId, path);
        return await ReadCoreAsync(relative, full, cancellationToken);
    }

    public async Task<WorkspaceWriteResult> WriteAsync(Guid roomId, string path, string content, string? ifMatchETag, Guid userId,
        CancellationToken cancellationToken)
    {
        var (relative, full) = Resolve(roomId, path);
        var bytes = Utf8.GetBytes(content);
        if (bytes.Length > options.Value.MaxFileBytes)
        {
            throw new WorkspacePathException(relative, $"the content is over {options.Value.MaxFileBytes} bytes");
        }
        var gate = _locks.GetOrAdd(full, _ => new SemaphoreSlim(1, 1));
        await gate.WaitAsync(cancellationToken);
        try
        {
            var current = await ReadCoreAsync(relative, full, cancellationToken);
            if (current?.ETag != ifMatchETag)
            {
                return new WorkspaceWriteResult(WorkspaceWriteStatus.PreconditionFailed, current?.ETag);
            }
            Directory.CreateDirectory(Path.GetDirectoryName(full)!);
            Resolve(roomId, path); // the directories just created must not have been swapped for links
            var temporary = full + $".conductor-{Guid.NewGuid():N}.tmp";
            await File.WriteAllBytesAsync(temporary, bytes, cancellationToken);
            File.Move(temporary, full, overwrite: true);
            return new WorkspaceWriteResult(WorkspaceWriteStatus.Written, ETagOf(bytes));
        }
        finally
        {
            gate.Release();
        }
    }

    public async Task<WorkspaceWriteResult> DeleteAsync(Guid roomId, string path, string ifMatchETag, Guid userId, CancellationToken cancellationToken)
    {
        var (relative, full) = Resolve(roomId, path);
        var gate = _locks.GetOrAdd(full, _ => new SemaphoreSlim(1, 1));
        await gate.WaitAsync(cancellationToken);
        try
        {
            var current = await ReadCoreAsync(relative, full, cancellationToken);
            if (current is null || current.ETag != ifMatchETag)
            {
                return new WorkspaceWriteResult(WorkspaceWriteStatus.PreconditionFailed, current?.ETag);
            }
            File.Delete(full);
            return new WorkspaceWriteResult(WorkspaceWriteStatus.Written, null);
        }
        finally
        {
            gate.Release();
        }
    }

    public static string ETagOf(ReadOnlySpan<byte> bytes) => $"\"{Convert.ToHexStringLower(SHA256.HashData(bytes))}\"";

    private async Task<WorkspaceFile?> ReadCoreAsync(string relative, string full, CancellationToken cancellationToken)
    {
        var info = new FileInfo(full);
        if (!info.Exists)
        {
            return Directory.Exists(full) ? throw new WorkspacePathException(relative, "the path is a directory") : null;
        }
        if (info.Length > options.Value.MaxFileBytes)
        {
            throw new WorkspacePathException(relative, $"the file is over {options.Value.MaxFileBytes} bytes");
        }
        var bytes = await File.ReadAllBytesAsync(full, cancellationToken);
        string content;
        try
        {
            content = Utf8.GetString(bytes);
        }
        catch (DecoderFallbackException)
        {
            throw new WorkspacePathException(relative, "the file is not UTF-8 text");
        }
        return new WorkspaceFile(relative, content, ETagOf(bytes));
    }

    /// <summary>The normalised path and its full path, after checking that no symlink along it leads out of the worktree.</summary>
    private (string Relative, string Full) Resolve(Guid roomId, string path)
    {
        var relative = WorkspacePath.Normalize(path);
        var root = Path.GetFullPath(Path.Combine(options.Value.Root, "worktrees", roomId.ToString("D")));
        if (!Directory.Exists(root))
        {
            throw new WorkspacePathException(relative, "the room has no workspace");
        }
        var realRoot = Directory.ResolveLinkTarget(root, returnFinalTarget: true)?.FullName ?? root;
        var current = realRoot;
        foreach (var segment in relative.Split('/'))
        {
            current = Path.Combine(current, segment);
            var info = new FileInfo(current);
            if (info.Exists || Directory.Exists(current))
            {
                if (info.LinkTarget is not null)
                {
                    var target = info.ResolveLinkTarget(returnFinalTarget: true)?.FullName;
                    if (target is null || !IsUnder(target, realRoot))
                    {
                        throw new WorkspacePathException(relative, "the path leaves the workspace through a link");
                    }
                    current = target;
                }
            }
        }
        var full = Path.GetFullPath(current);
        if (!IsUnder(full, realRoot))
        {
            throw new WorkspacePathException(relative, "the path leaves the workspace");
        }
        return (relative, full);
    }

    private static bool IsUnder(string path, string root) =>
        path.StartsWith(root.TrimEnd(Path.DirectorySeparatorChar) + Path.DirectorySeparatorChar, StringComparison.Ordinal);
}
