using System.Security.Cryptography;
using System.Text;
using Conductor.Workspaces.Personal;
using Conductor.Workspaces.Search;
using Microsoft.Extensions.Options;

namespace Conductor.Workspaces.Files;

public sealed record FileEntry(string Path, string Type, long Size, DateTimeOffset Mtime);

public sealed record FileContent(string Path, string Content, string Encoding, long Size, string Etag);

public sealed record FileWritten(string Path, long Size, string Etag, bool Created);

public static class FileChange
{
    public const string Created = "created";
    public const string Changed = "changed";
    public const string Deleted = "deleted";
    public const string Renamed = "renamed";
}

/// <summary>
/// Reads and writes a room's worktree directly (the Api shares the workspace volume with the GitWorker). Every
/// client path goes through <see cref="WorkspacePaths"/>; every write takes the room lock the commit job takes,
/// lands through a temporary file and an atomic rename (a reader never sees half a file), and is published.
/// </summary>
public sealed class WorkspaceFileService(
    WorkspaceRepository repository,
    WorkspaceLocks locks,
    WorkspaceEvents events,
    PersonalWorktrees personal,
    IOptions<WorkspaceOptions> options)
{
    private readonly WorkspaceOptions _options = options.Value;

    public long MaxFileBytes => _options.MaxFileBytes;

    /// <summary>
    /// The worktree of a ready workspace: 404 without one, 409 while it is not ready. A member's own worktree
    /// (<c>worktree=me</c>) is made from the room's branch the first time it is asked for.
    /// </summary>
    public async Task<string> GetWorktreeAsync(WorktreeTarget target, CancellationToken cancellationToken)
    {
        if (target.Login is { } login)
        {
            return await personal.EnsureAsync(target.RoomId, login, cancellationToken).ConfigureAwait(false);
        }
        var roomId = target.RoomId;
        var workspace = await repository.GetAsync(roomId, cancellationToken).ConfigureAwait(false) ?? throw WorkspaceException.NoWorkspace();
        if (workspace.Status != WorkspaceStatus.Ready)
        {
            throw WorkspaceException.NotReady(workspace.Status);
        }
        var worktree = Path.Combine(_options.WorktreesPath, roomId.ToString("D"));
        return Directory.Exists(worktree) ? worktree : throw WorkspaceException.NoWorkspace();
    }

    public async Task<IReadOnlyList<FileEntry>> ListAsync(WorktreeTarget target, string? path, bool recursive, CancellationToken cancellationToken)
    {
        var roomId = target.RoomId;
        var worktree = await GetWorktreeAsync(target, cancellationToken).ConfigureAwait(false);
        var directory = WorkspacePaths.Resolve(worktree, path, FinalLink.Follow, allowRoot: true);
        if (!Directory.Exists(directory.FullPath))
        {
            throw File.Exists(directory.FullPath)
                ? WorkspacePathException.Invalid($"'{directory.RelativePath}' is a file, not a directory.")
                : WorkspacePathException.NotFound($"There is no directory '{directory.RelativePath}'.");
        }
        var entries = new List<FileEntry>();
        var pending = new Stack<(string Full, string Relative)>();
        pending.Push((directory.FullPath, directory.RelativePath));
        while (pending.Count > 0)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var (full, relative) = pending.Pop();
            foreach (var info in new DirectoryInfo(full).EnumerateFileSystemInfos())
            {
                if (WorkspacePaths.IsGitSegment(info.Name))
                {
                    continue;
                }
                var childRelative = relative.Length == 0 ? info.Name : relative + "/" + info.Name;
                var type = info.LinkTarget is not null ? "symlink" : info is DirectoryInfo ? "dir" : "file";
                entries.Add(new FileEntry(childRelative, type, type == "file" ? ((FileInfo)info).Length : 0, info.LastWriteTimeUtc));
                if (entries.Count > _options.MaxListEntries)
                {
                    throw new WorkspaceException(WorkspaceErrorKind.TooManyEntries, "Too many entries",
                        $"The listing has more than {_options.MaxListEntries} entries; list a subdirectory or without recursive.");
                }
                // Symlinked directories are listed, never entered: they may lead anywhere.
                if (recursive && type == "dir")
                {
                    pending.Push((info.FullName, childRelative));
                }
            }
        }
        entries.Sort((a, b) => string.CompareOrdinal(a.Path, b.Path));
        return entries;
    }

    public async Task<FileContent> ReadAsync(WorktreeTarget target, string? path, CancellationToken cancellationToken)
    {
        var roomId = target.RoomId;
        var worktree = await GetWorktreeAsync(target, cancellationToken).ConfigureAwait(false);
        var file = WorkspacePaths.Resolve(worktree, path);
        var info = new FileInfo(file.FullPath);
        if (!info.Exists)
        {
            throw Directory.Exists(file.FullPath)
                ? WorkspacePathException.Invalid($"'{file.RelativePath}' is a directory; list it with /files.")
                : WorkspacePathException.NotFound($"There is no file '{file.RelativePath}'.");
        }
        if (info.Length > _options.MaxFileBytes)
        {
            throw TooLarge(info.Length);
        }
        var bytes = await File.ReadAllBytesAsync(file.FullPath, cancellationToken).ConfigureAwait(false);
        if (bytes.Length > _options.MaxFileBytes)
        {
            throw TooLarge(bytes.Length);
        }
        var text = TryDecodeText(bytes);
        return text is null
            ? new FileContent(file.RelativePath, Convert.ToBase64String(bytes), "base64", bytes.Length, Etag(bytes))
            : new FileContent(file.RelativePath, text, "utf-8", bytes.Length, Etag(bytes));
    }

    /// <summary>
    /// Writes the file (creating parent folders). Conditions are checked under the room lock, as HTTP has them:
    /// <paramref name="ifMatch"/> must be the current etag (<c>*</c>: the file exists), and <paramref name="ifNoneMatch"/>
    /// <c>*</c> means create only, when the file does not exist yet; 412 otherwise.
    /// </summary>
    public async Task<FileWritten> WriteAsync(WorktreeTarget target, string? path, byte[] content, string? ifMatch, Guid userId, CancellationToken cancellationToken,
        string? ifNoneMatch = null)
    {
        if (content.LongLength > _options.MaxFileBytes)
        {
            throw TooLarge(content.LongLength);
        }
        var roomId = target.RoomId;
        var worktree = await GetWorktreeAsync(target, cancellationToken).ConfigureAwait(false);
        FileWritten written;
        await using (await locks.LockRoomAsync(roomId, cancellationToken).ConfigureAwait(false))
        {
            // Resolved under the lock: what is checked is what is written.
            var file = WorkspacePaths.Resolve(worktree, path);
            if (Directory.Exists(file.FullPath))
            {
                throw WorkspacePathException.Invalid($"'{file.RelativePath}' is a directory.");
            }
            var exists = File.Exists(file.FullPath);
            if (ifMatch is not null && ifMatch != "*")
            {
                var current = exists ? Etag(await File.ReadAllBytesAsync(file.FullPath, cancellationToken).ConfigureAwait(false)) : null;
                if (current is null || !EtagMatches(ifMatch, current))
                {
                    throw new WorkspaceException(WorkspaceErrorKind.PreconditionFailed, "The file changed",
                        $"'{file.RelativePath}' is no longer at the version you read (If-Match {ifMatch}); read it again and reapply your change.");
                }
            }
            else if (ifMatch == "*" && !exists)
            {
                throw new WorkspaceException(WorkspaceErrorKind.PreconditionFailed, "The file does not exist", $"If-Match: * but '{file.RelativePath}' does not exist.");
            }
            if (ifNoneMatch is not null && exists
                && (ifNoneMatch == "*" || EtagMatches(ifNoneMatch, Etag(await File.ReadAllBytesAsync(file.FullPath, cancellationToken).ConfigureAwait(false)))))
            {
                throw new WorkspaceException(WorkspaceErrorKind.PreconditionFailed, "The file exists",
                    $"'{file.RelativePath}' already exists (If-None-Match {ifNoneMatch}); read it and apply your change to it instead.");
            }
            var parent = Path.GetDirectoryName(file.FullPath)!;
            if (File.Exists(parent))
            {
                throw WorkspacePathException.Invalid("A parent in the path is a file, not a directory.");
            }
            Directory.CreateDirectory(parent);
            await WriteAtomicallyAsync(file.FullPath, content, cancellationToken).ConfigureAwait(false);
            SearchIndexes.RecordChanges(worktree, file.RelativePath);
            written = new FileWritten(file.RelativePath, content.LongLength, Etag(content), !exists);
        }
        await PublishAsync(target, roomId, written.Path, written.Created ? FileChange.Created : FileChange.Changed, userId, null, cancellationToken).ConfigureAwait(false);
        return written;
    }

    /// <summary>Deletes the file (a symlink itself, never its target); with <paramref name="ifMatch"/> only when it is still at that etag (412).</summary>
    public async Task DeleteAsync(WorktreeTarget target, string? path, Guid userId, CancellationToken cancellationToken, string? ifMatch = null)
    {
        var roomId = target.RoomId;
        var worktree = await GetWorktreeAsync(target, cancellationToken).ConfigureAwait(false);
        string relative;
        await using (await locks.LockRoomAsync(roomId, cancellationToken).ConfigureAwait(false))
        {
            var entry = WorkspacePaths.Resolve(worktree, path, FinalLink.Keep);
            var info = new FileInfo(entry.FullPath);
            if (info.LinkTarget is null && Directory.Exists(entry.FullPath))
            {
                throw WorkspacePathException.Invalid($"'{entry.RelativePath}' is a directory; delete the files in it.");
            }
            if (!info.Exists && info.LinkTarget is null)
            {
                throw WorkspacePathException.NotFound($"There is no file '{entry.RelativePath}'.");
            }
            if (ifMatch is not null && ifMatch != "*" && (info.LinkTarget is not null
                || !EtagMatches(ifMatch, Etag(await File.ReadAllBytesAsync(entry.FullPath, cancellationToken).ConfigureAwait(false)))))
            {
                throw new WorkspaceException(WorkspaceErrorKind.PreconditionFailed, "The file changed",
                    $"'{entry.RelativePath}' is no longer at the version you read (If-Match {ifMatch}); read it again before deleting it.");
            }
            File.Delete(entry.FullPath); // a symlink itself, never its target
            SearchIndexes.RecordChanges(worktree, entry.RelativePath);
            relative = entry.RelativePath;
        }
        await PublishAsync(target, roomId, relative, FileChange.Deleted, userId, null, cancellationToken).ConfigureAwait(false);
    }

    public async Task<string> RenameAsync(WorktreeTarget worktreeTarget, string? from, string? to, Guid userId, CancellationToken cancellationToken)
    {
        var roomId = worktreeTarget.RoomId;
        var worktree = await GetWorktreeAsync(worktreeTarget, cancellationToken).ConfigureAwait(false);
        ResolvedPath source, target;
        await using (await locks.LockRoomAsync(roomId, cancellationToken).ConfigureAwait(false))
        {
            source = WorkspacePaths.Resolve(worktree, from, FinalLink.Keep);
            target = WorkspacePaths.Resolve(worktree, to, FinalLink.Keep);
            var sourceInfo = new FileInfo(source.FullPath);
            var isDirectory = sourceInfo.LinkTarget is null && Directory.Exists(source.FullPath);
            if (!isDirectory && !sourceInfo.Exists && sourceInfo.LinkTarget is null)
            {
                throw WorkspacePathException.NotFound($"There is no file '{source.RelativePath}'.");
            }
            if (File.Exists(target.FullPath) || Directory.Exists(target.FullPath) || new FileInfo(target.FullPath).LinkTarget is not null)
            {
                throw new WorkspaceException(WorkspaceErrorKind.Conflict, "Target exists", $"'{target.RelativePath}' already exists.");
            }
            if (isDirectory && (target.FullPath + "/").StartsWith(source.FullPath + "/", StringComparison.Ordinal))
            {
                throw WorkspacePathException.Invalid("A directory cannot be moved into itself.");
            }
            var parent = Path.GetDirectoryName(target.FullPath)!;
            if (File.Exists(parent))
            {
                throw WorkspacePathException.Invalid("A parent in the target path is a file, not a directory.");
            }
            Directory.CreateDirectory(parent);
            if (isDirectory)
            {
                Directory.Move(source.FullPath, target.FullPath);
            }
            else
            {
                File.Move(source.FullPath, target.FullPath, overwrite: false);
            }
            SearchIndexes.RecordChanges(worktree, source.RelativePath, target.RelativePath);
        }
        await PublishAsync(worktreeTarget, roomId, target.RelativePath, FileChange.Renamed, userId, source.RelativePath, cancellationToken).ConfigureAwait(false);
        return target.RelativePath;
    }

    /// <summary>A member's own worktree is theirs until they sync: its edits are not announced to the room.</summary>
    private Task PublishAsync(WorktreeTarget target, Guid roomId, string path, string change, Guid userId, string? from, CancellationToken cancellationToken) =>
        target.IsPersonal ? Task.CompletedTask : events.PublishFileChangedAsync(roomId, path, change, userId, from, cancellationToken);

    private async Task WriteAtomicallyAsync(string destination, byte[] content, CancellationToken cancellationToken)
    {
        // Staged outside the worktree (same volume, so the rename is atomic) so a crash leaves no stray file to commit.
        Directory.CreateDirectory(_options.ScratchPath);
        var staging = Path.Combine(_options.ScratchPath, $"write-{Guid.NewGuid():N}");
        try
        {
            await File.WriteAllBytesAsync(staging, content, cancellationToken).ConfigureAwait(false);
            if (File.Exists(destination))
            {
                File.SetUnixFileMode(staging, File.GetUnixFileMode(destination)); // keep an executable bit
            }
            File.Move(staging, destination, overwrite: true);
        }
        finally
        {
            File.Delete(staging);
        }
    }

    public static string Etag(ReadOnlySpan<byte> content) => $"\"{Convert.ToHexStringLower(SHA256.HashData(content))[..32]}\"";

    private static bool EtagMatches(string header, string etag) =>
        header.Split(',').Select(t => t.Trim()).Any(t => t == etag || t == "W/" + etag);

    /// <summary>Text when the bytes are valid UTF-8 without NULs; otherwise null (the caller sends base64).</summary>
    private static string? TryDecodeText(byte[] bytes)
    {
        if (bytes.AsSpan().Contains((byte)0))
        {
            return null;
        }
        try
        {
            return new UTF8Encoding(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true).GetString(bytes);
        }
        catch (DecoderFallbackException)
        {
            return null;
        }
    }

    private WorkspaceException TooLarge(long size) =>
        new(WorkspaceErrorKind.TooLarge, "File too large", $"The file has {size} bytes; the limit is {_options.MaxFileBytes} bytes.");
}
