using System.Text;
using Conductor.Workspaces.Git;

namespace Conductor.Workspaces.GitRemote;

/// <summary>
/// Which objects a room may be sent: those reachable from its own refs. Stores are shared by every room on a remote,
/// so another room's session commits sit in the same object database; hidden refs hide their names only, and git's
/// protocol v2 <c>fetch</c> hands out any object a client names ("wants can be anything", gitprotocol-v2). The git
/// remote asks this before upload-pack runs, for every wanted object that is not one of the room's tips.
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

        var types = await git.RunCheckedAsync(new GitInvocation(["cat-file", "--batch-check=%(objectname) %(objecttype)"])
        {
            WorkingDirectory = store,
            StandardInput = string.Join('\n', pending) + "\n",
        }, cancellationToken).ConfigureAwait(false);
        var commits = new List<string>();
        var others = new List<string>();
        var unreachable = new List<string>();
        foreach (var line in types.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var parts = line.Split(' ');
            // "<id> missing" for an object the store does not have.
            var kind = parts.Length == 2 ? parts[1] : "missing";
            (kind == "commit" ? commits : kind is "tree" or "blob" or "tag" ? others : unreachable).Add(parts[0]);
        }

        var negated = string.Concat(tipSet.Select(t => "^" + t + "\n"));
        if (commits.Count > 0)
        {
            // Commits reachable from a want and from no tip; a want that is reachable from a tip is not among them.
            var walk = await git.RunCheckedAsync(new GitInvocation(["rev-list", "--stdin"])
            {
                WorkingDirectory = store,
                StandardInput = string.Concat(commits.Select(c => c + "\n")) + negated,
            }, cancellationToken).ConfigureAwait(false);
            var outside = walk.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries).ToHashSet(StringComparer.Ordinal);
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
}
