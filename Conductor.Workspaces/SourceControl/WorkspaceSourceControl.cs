using Conductor.Workspaces.Files;
using Conductor.Workspaces.Personal;
using LibGit2Sharp;

namespace Conductor.Workspaces.SourceControl;

/// <summary>
/// What an IDE's source-control view shows, read from the room's worktree through LibGit2Sharp: changed files,
/// a file's unified diff against the session branch's HEAD, and recent commits. Reads take no room lock: a
/// status taken while a member types is as current as the IDE's own would be.
/// </summary>
public sealed class WorkspaceSourceControl(WorkspaceFileService files, WorkspaceRepository repository)
{
    public const int DefaultLogLimit = 50;
    public const int MaxLogLimit = 500;

    public async Task<WorkspaceStatusResponse> StatusAsync(WorktreeTarget target, CancellationToken cancellationToken)
    {
        var roomId = target.RoomId;
        var worktree = await files.GetWorktreeAsync(target, cancellationToken).ConfigureAwait(false);
        var branch = await BranchAsync(target, cancellationToken).ConfigureAwait(false);
        return await Task.Run(() =>
        {
            using var repo = new Repository(worktree);
            var status = repo.RetrieveStatus(new StatusOptions { IncludeUntracked = true, RecurseUntrackedDirs = true, DetectRenamesInWorkDir = true, DetectRenamesInIndex = true });
            var changed = status.Where(e => e.State != FileStatus.Ignored && e.State != FileStatus.Unaltered)
                .Select(ToChangedFile)
                .OrderBy(f => f.Path, StringComparer.Ordinal)
                .ToList();
            return new WorkspaceStatusResponse(roomId, branch, repo.Head.Tip?.Sha, changed);
        }, cancellationToken).ConfigureAwait(false);
    }

    public async Task<WorkspaceDiffResponse> DiffAsync(WorktreeTarget target, string? path, CancellationToken cancellationToken)
    {
        var roomId = target.RoomId;
        var relative = WorkspacePaths.Normalize(path, allowRoot: false);
        var worktree = await files.GetWorktreeAsync(target, cancellationToken).ConfigureAwait(false);
        return await Task.Run(() =>
        {
            using var repo = new Repository(worktree);
            var head = repo.Head.Tip;
            // Untracked files are included so that a new file diffs as all-added, as in an IDE.
            var patch = repo.Diff.Compare<Patch>(head?.Tree, DiffTargets.WorkingDirectory | DiffTargets.Index, [relative],
                new ExplicitPathsOptions { ShouldFailOnUnmatchedPath = false },
                new CompareOptions { IncludeUnmodified = false, ContextLines = 3 });
            var entry = patch[relative];
            if (entry is null)
            {
                return new WorkspaceDiffResponse(roomId, relative, head?.Sha, false, 0, 0, "");
            }
            return new WorkspaceDiffResponse(roomId, relative, head?.Sha, entry.IsBinaryComparison, entry.LinesAdded, entry.LinesDeleted, entry.Patch);
        }, cancellationToken).ConfigureAwait(false);
    }

    public async Task<WorkspaceLogResponse> LogAsync(Guid roomId, int? limit, CancellationToken cancellationToken)
    {
        var count = limit ?? DefaultLogLimit;
        if (count is < 1 or > MaxLogLimit)
        {
            throw new WorkspaceException(WorkspaceErrorKind.Invalid, "Invalid limit", $"limit must be between 1 and {MaxLogLimit}.");
        }
        var worktree = await files.GetWorktreeAsync(roomId, cancellationToken).ConfigureAwait(false);
        var branch = await BranchAsync(roomId, cancellationToken).ConfigureAwait(false);
        return await Task.Run(() =>
        {
            using var repo = new Repository(worktree);
            var commits = repo.Commits.QueryBy(new CommitFilter { SortBy = CommitSortStrategies.Topological | CommitSortStrategies.Time })
                .Take(count)
                .Select(c => new CommitSummary(c.Sha, c.Message.TrimEnd(), c.Author.Name, c.Author.Email, c.Author.When, c.Parents.Select(p => p.Sha).ToList()))
                .ToList();
            return new WorkspaceLogResponse(roomId, branch, commits);
        }, cancellationToken).ConfigureAwait(false);
    }

    private async Task<string> BranchAsync(WorktreeTarget target, CancellationToken cancellationToken) =>
        target.Login is { } login
            ? PersonalWorktreeNames.Branch(target.RoomId, login)
            : (await repository.GetAsync(target.RoomId, cancellationToken).ConfigureAwait(false) ?? throw WorkspaceException.NoWorkspace()).Branch;

    private static ChangedFile ToChangedFile(StatusEntry entry)
    {
        var state = entry.State;
        var staged = (state & (FileStatus.NewInIndex | FileStatus.ModifiedInIndex | FileStatus.DeletedFromIndex | FileStatus.RenamedInIndex | FileStatus.TypeChangeInIndex)) != 0;
        var name = state switch
        {
            _ when state.HasFlag(FileStatus.Conflicted) => "conflicted",
            _ when state.HasFlag(FileStatus.NewInWorkdir) => "untracked",
            _ when state.HasFlag(FileStatus.NewInIndex) => "added",
            _ when state.HasFlag(FileStatus.DeletedFromWorkdir) || state.HasFlag(FileStatus.DeletedFromIndex) => "deleted",
            _ when state.HasFlag(FileStatus.RenamedInWorkdir) || state.HasFlag(FileStatus.RenamedInIndex) => "renamed",
            _ when state.HasFlag(FileStatus.TypeChangeInWorkdir) || state.HasFlag(FileStatus.TypeChangeInIndex) => "type_changed",
            _ => "modified",
        };
        var oldPath = entry.HeadToIndexRenameDetails?.OldFilePath ?? entry.IndexToWorkDirRenameDetails?.OldFilePath;
        return new ChangedFile(entry.FilePath, name, staged, name == "renamed" ? oldPath : null);
    }
}
