using Conductor.Workspaces;
using Conductor.Workspaces.Files;

namespace Conductor.Api.Changes;

/// <summary>
/// The checks every proposed change passes against the workspace as it is, whoever wrote it (a provider's answer to
/// <c>/generate-changes</c>, or a coding agent through MCP): a path the one normaliser accepts (in its tidy mode), a
/// known type, content for creates and modifies, each file changed once, creates only of missing files, modifies and
/// deletes only of existing ones.
/// </summary>
internal static class ChangeChecks
{
    /// <summary>
    /// Checks <paramref name="proposed"/>, reading each file once: <paramref name="bases"/> holds the files already
    /// read (the context files) and gains the others, so the caller can diff against exactly what was checked.
    /// </summary>
    /// <returns>The reasons the changes are refused (empty when all pass) and each accepted change with its normalised path.</returns>
    public static async Task<(IReadOnlyList<string> Errors, IReadOnlyList<(string Path, ProposedChange Change)> Accepted)> CheckAsync(
        Guid roomId, IReadOnlyList<ProposedChange> proposed, IWorkspaceFiles workspace, Dictionary<string, WorkspaceFile?> bases,
        CancellationToken cancellationToken)
    {
        var errors = new List<string>();
        var accepted = new List<(string Path, ProposedChange Change)>();
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
                errors.Add($"{ApiProblems.Truncate(change.FilePath ?? "")}: {ex.Message}");
                continue;
            }
            if (!ChangeTypes.IsKnown(change.Type))
            {
                errors.Add($"{path}: type is create, modify or delete");
                continue;
            }
            if (change.Type != ChangeTypes.Delete && change.Content is null)
            {
                errors.Add($"{path}: content is required for {change.Type}");
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
                    current = await workspace.ReadAsync(roomId, path, cancellationToken);
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
            else
            {
                accepted.Add((path, change));
            }
        }
        return (errors, accepted);
    }
}
