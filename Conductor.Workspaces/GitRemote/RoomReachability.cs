using System.Text;
using Conductor.Workspaces.Git;

namespace Conductor.Workspaces.GitRemote;

/// <summary>
/// Which objects a room may be sent: those reachable from its own refs. Stores are shared by every room on a remote,
/// so another room's session commits sit in the same object database; hidden refs hide their names only, and git's
/// protocol v2 <c>fetch</c> hands out any object a client names ("wants can be anything", gitprotocol-v2), and
/// upload-pack acknowledges every <c>have</c> the store holds (any protocol). The git remote asks this before
/// upload-pack runs: for every wanted object that is not one of the room's tips, and for every <c>have</c> (and
/// <c>shallow</c>) commit a client names.
/// </summary>
public sealed class RoomReachability(GitCli git)
{
    /// <summary>
    /// The ids in <paramref name="wants"/> that are not reachable from <paramref name="tips"/> in
    /// <paramref name="store"/> (missing objects included, so the answer says nothing about what exists).
    /// </summary>
    public async Task<IReadOnlyList<string>> UnreachableAsync(string store, IReadOnlyCollection<string> tips, IReadOnlyCollection<string> wants,
        CancellationToken cancellationToken)
    {
        var tipSet = tips.ToHashSet(StringComparer.Ordinal);
        var pending = wants.Where(w => !tipSet.Contains(w)).Distinct(StringComparer.Ordinal).ToList();
        if (pending.Count == 0)
        {
            return [];
        }
        if (tipSet.Count == 0)
        {
            return pending;
        }

        var commits = new List<string>();
        var others = new List<string>();
        var unreachable = new List<string>();
        foreach (var (id, kind) in await TypesAsync(store, pending, cancellationToken).ConfigureAwait(false))
        {
            (kind == "commit" ? commits : kind is "tree" or "blob" or "tag" ? others : unreachable).Add(id);
        }

        if (commits.Count > 0)
        {
            var outside = await OutsideAsync(store, tipSet, commits, cancellationToken).ConfigureAwait(false);
            unreachable.AddRange(commits.Where(outside.Contains));
        }
        if (others.Count > 0)
        {
            // Trees and blobs (a partial clone fetching what it left out, or a client naming one): every object the
            // room's tips reach is listed. Costly on a large history, and only run for such wants.
            var reachable = await git.RunCheckedAsync(new GitInvocation(["rev-list", "--objects", "--no-object-names", "--stdin"])
            {
                WorkingDirectory = store,
                StandardInput = string.Concat(tipSet.Select(t => t + "\n")),
            }, cancellationToken).ConfigureAwait(false);
            var objects = new HashSet<string>(StringComparer.Ordinal);
            foreach (var id in Encoding.ASCII.GetString(reachable.StandardOutputBytes).Split('\n', StringSplitOptions.RemoveEmptyEntries))
            {
                objects.Add(id);
            }
            unreachable.AddRange(others.Where(o => !objects.Contains(o)));
        }
        return unreachable;
    }

    /// <summary>
    /// The ids in <paramref name="ids"/> that name commits reachable from <paramref name="tips"/> in
    /// <paramref name="store"/>: what a client's <c>have</c> and <c>shallow</c> lines may name. Anything else (another
    /// room's commit, a tree, a blob, a tag, an object the store does not have) is left out, so that upload-pack, given
    /// only these, acknowledges nothing the room cannot reach.
    /// </summary>
    /// <remarks>
    /// Commits only: git's client names commits in <c>have</c> lines, and a commit is what upload-pack takes as a
    /// <c>shallow</c>. One <c>cat-file</c> and one <c>rev-list</c> walk, which stops where the named commits' history
    /// meets the tips'.
    /// </remarks>
    public async Task<IReadOnlySet<string>> ReachableCommitsAsync(string store, IReadOnlyCollection<string> tips, IReadOnlyCollection<string> ids,
        CancellationToken cancellationToken)
    {
        var tipSet = tips.ToHashSet(StringComparer.Ordinal);
        var reachable = new HashSet<string>(StringComparer.Ordinal);
        if (tipSet.Count == 0)
        {
            return reachable;
        }
        // The room's tips are commits (branch heads) and reachable by definition.
        reachable.UnionWith(ids.Where(tipSet.Contains));
        var pending = ids.Where(i => !tipSet.Contains(i)).Distinct(StringComparer.Ordinal).ToList();
        if (pending.Count == 0)
        {
            return reachable;
        }
        var commits = (await TypesAsync(store, pending, cancellationToken).ConfigureAwait(false)).Where(t => t.Kind == "commit").Select(t => t.Id).ToList();
        // The walk runs even when no named object is a commit here, so that whether one is does not show as a git
        // process less in the answer's time.
        var outside = await OutsideAsync(store, tipSet, commits, cancellationToken).ConfigureAwait(false);
        reachable.UnionWith(commits.Where(c => !outside.Contains(c)));
        return reachable;
    }

    /// <summary>Each id with its object type, <c>missing</c> for an object the store does not have.</summary>
    private async Task<List<(string Id, string Kind)>> TypesAsync(string store, IReadOnlyCollection<string> ids, CancellationToken cancellationToken)
    {
        var types = await git.RunCheckedAsync(new GitInvocation(["cat-file", "--batch-check=%(objectname) %(objecttype)"])
        {
            WorkingDirectory = store,
            StandardInput = string.Join('\n', ids) + "\n",
        }, cancellationToken).ConfigureAwait(false);
        var result = new List<(string Id, string Kind)>(ids.Count);
        foreach (var line in types.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            // "<id> missing" for an object the store does not have.
            var parts = line.Split(' ');
            result.Add((parts[0], parts.Length == 2 ? parts[1] : "missing"));
        }
        return result;
    }

    /// <summary>
    /// The commits reachable from <paramref name="commits"/> and from no tip (one <c>rev-list --stdin</c> walk): a named
    /// commit that a tip reaches is not among them.
    /// </summary>
    private async Task<HashSet<string>> OutsideAsync(string store, IReadOnlyCollection<string> tips, IReadOnlyCollection<string> commits,
        CancellationToken cancellationToken)
    {
        var walk = await git.RunCheckedAsync(new GitInvocation(["rev-list", "--stdin"])
        {
            WorkingDirectory = store,
            StandardInput = string.Concat(commits.Select(c => c + "\n")) + string.Concat(tips.Select(t => "^" + t + "\n")),
        }, cancellationToken).ConfigureAwait(false);
        return walk.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries).ToHashSet(StringComparer.Ordinal);
    }
}
