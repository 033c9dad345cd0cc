using System.Text;
using Conductor.Workspaces.Git;

namespace Conductor.Workspaces.Files;


/// <param name="FullPath">The absolute path to act on, symlinks resolved (except a final one in <see cref="FinalLink.Keep"/> mode).</param>
/// <param name="RelativePath">The client's path, normalised ('/' separators, no trailing slash; "" for the root).</param>
public sealed record ResolvedPath(string FullPath, string RelativePath);

public enum FinalLink
{
    /// <summary>Read or write what the path points at (which must be inside the worktree too).</summary>
    Follow,
    /// <summary>Act on the directory entry itself (delete or rename a symlink, not its target).</summary>
    Keep,
}

/// <summary>
/// Every client path goes through here before the file system sees it. Lexical checks first (absolute, <c>..</c>,
/// NUL, backslashes, percent-encoded separators or dots, <c>.git</c>, lengths), then each component is resolved by
/// the kernel (realpath) so that a symlink anywhere on the way cannot lead outside the worktree or into <c>.git</c>.
/// </summary>
public static class WorkspacePaths
{
    public const int MaxPathBytes = 4096;
    public const int MaxSegmentBytes = 255;
    // %25 too: a double-encoded dot or slash is refused rather than kept as a confusing literal name.
    private static readonly string[] EncodedTricks = ["%2e", "%2f", "%5c", "%00", "%25"];

    /// <summary>
    /// The normalised relative path, or a <see cref="WorkspacePathException"/> (<see cref="WorkspaceErrorKind.Invalid"/>).
    /// This is the one normaliser for every path a client or a model names (files API, source control, change sets,
    /// audit). <paramref name="tidy"/> first forgives the harmless spellings models and editors produce (<c>./docs/a.md</c>,
    /// <c>docs//a.md</c>, Windows separators) and then applies the same checks; the files API takes paths exactly.
    /// </summary>
    public static string Normalize(string? path, bool allowRoot = false, bool tidy = false)
    {
        path ??= "";
        if (tidy)
        {
            var segments = path.Replace('\\', '/').Split('/', StringSplitOptions.RemoveEmptyEntries).Where(s => s != ".");
            path = (path.StartsWith('/') || path.StartsWith('\\') ? "/" : "") + string.Join('/', segments);
        }
        if (path.Contains('\0', StringComparison.Ordinal))
        {
            throw WorkspacePathException.Invalid("The path contains a NUL character.");
        }
        if (Encoding.UTF8.GetByteCount(path) > MaxPathBytes)
        {
            throw WorkspacePathException.Invalid($"The path is longer than {MaxPathBytes} bytes.");
        }
        if (path.Contains('\\', StringComparison.Ordinal))
        {
            throw WorkspacePathException.Invalid("Use '/' as the separator; backslashes are not allowed in paths.");
        }
        if (path.StartsWith('/') || (path.Length >= 2 && path[1] == ':'))
        {
            throw WorkspacePathException.Invalid("The path must be relative to the workspace root.");
        }
        if (EncodedTricks.Any(t => path.Contains(t, StringComparison.OrdinalIgnoreCase)))
        {
            throw WorkspacePathException.Invalid("The path contains a percent-encoded dot, separator or NUL.");
        }
        if (path.Any(char.IsControl))
        {
            throw WorkspacePathException.Invalid("The path contains control characters.");
        }
        var trimmed = path.EndsWith('/') ? path[..^1] : path;
        if (trimmed.Length == 0)
        {
            return allowRoot ? "" : throw WorkspacePathException.Invalid("A file path is required.");
        }
        foreach (var segment in trimmed.Split('/'))
        {
            if (segment.Length == 0)
            {
                throw WorkspacePathException.Invalid("The path has an empty segment ('//').");
            }
            if (segment is "." or "..")
            {
                throw WorkspacePathException.Invalid("'.' and '..' segments are not allowed in paths.");
            }
            if (IsGitSegment(segment))
            {
                throw WorkspacePathException.Invalid("Git's own files (.git) cannot be read or written through the workspace.");
            }
            if (Encoding.UTF8.GetByteCount(segment) > MaxSegmentBytes)
            {
                throw WorkspacePathException.Invalid($"A path segment is longer than {MaxSegmentBytes} bytes.");
            }
        }
        return trimmed;
    }

    /// <summary>Resolves a client path inside the worktree; throws 400 for anything that escapes it.</summary>
    public static ResolvedPath Resolve(string worktree, string? clientPath, FinalLink finalLink = FinalLink.Follow, bool allowRoot = false)
    {
        var relative = Normalize(clientPath, allowRoot);
        if (Native.TryRealPath(worktree, out var root) != Native.RealPathOutcome.Resolved)
        {
            throw WorkspacePathException.NotFound("The workspace's worktree does not exist.");
        }
        if (relative.Length == 0)
        {
            return new ResolvedPath(root, "");
        }

        var segments = relative.Split('/');
        var current = root;
        for (var i = 0; i < segments.Length; i++)
        {
            var next = current + "/" + segments[i];
            if (i == segments.Length - 1 && finalLink == FinalLink.Keep)
            {
                return new ResolvedPath(next, relative);
            }
            switch (Native.TryRealPath(next, out var resolved))
            {
                case Native.RealPathOutcome.Resolved:
                    EnsureInside(root, resolved);
                    current = resolved;
                    break;
                case Native.RealPathOutcome.Missing:
                    if (new FileInfo(next).LinkTarget is not null)
                    {
                        throw WorkspacePathException.Invalid("The path goes through a symlink that points nowhere inside the workspace.");
                    }
                    // Nothing below a missing entry exists, so the rest has no symlinks to follow.
                    return new ResolvedPath(string.Join('/', [next, .. segments[(i + 1)..]]), relative);
                case Native.RealPathOutcome.NotADirectory:
                    throw WorkspacePathException.Invalid("A parent in the path is a file, not a directory.");
                default:
                    throw WorkspacePathException.Invalid("The path cannot be resolved (a symlink loop or no permission).");
            }
        }
        return new ResolvedPath(current, relative);
    }

    private static void EnsureInside(string root, string resolved)
    {
        if (resolved == root)
        {
            return;
        }
        if (!resolved.StartsWith(root + "/", StringComparison.Ordinal))
        {
            throw WorkspacePathException.Invalid("The path resolves (through a symlink) outside the workspace.");
        }
        if (resolved[(root.Length + 1)..].Split('/').Any(IsGitSegment))
        {
            throw WorkspacePathException.Invalid("The path resolves (through a symlink) into git's own files.");
        }
    }

    public static bool IsGitSegment(string segment) => segment.Equals(".git", StringComparison.OrdinalIgnoreCase);
}
