using LibGit2Sharp;

namespace Conductor.Workspaces.GitRemote;

/// <summary>
/// The refs of a store that belong to one room: its branch <c>session/{room_id}</c> and the branches beside it,
/// <c>session/{room_id}-{name}</c> (members' own branches and pushed topic branches). Stores are shared by every room
/// on a remote, so the git remote shows a room only these.
/// </summary>
public static class RoomRefs
{
    public static string RoomBranchRef(Guid roomId) => $"refs/heads/session/{roomId:D}";

    /// <summary>Whether a push may write <paramref name="reference"/> in the room (deleting the room's own branch excepted).</summary>
    public static bool IsRoomRef(Guid roomId, string reference)
    {
        var main = RoomBranchRef(roomId);
        return reference == main
            || (reference.StartsWith(main + "-", StringComparison.Ordinal) && reference.Length > main.Length + 1
                && WorkspaceCommands.IsValidBranchName(reference["refs/heads/".Length..]));
    }

    /// <summary>Every room ref in the store with its commit.</summary>
    public static IReadOnlyDictionary<string, string> Read(string store, Guid roomId)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        if (!Directory.Exists(store))
        {
            return result;
        }
        using var repo = new Repository(store);
        foreach (var reference in repo.Refs.FromGlob($"refs/heads/session/{roomId:D}*"))
        {
            if (IsRoomRef(roomId, reference.CanonicalName) && reference.ResolveToDirectReference()?.TargetIdentifier is { } target)
            {
                result[reference.CanonicalName] = target;
            }
        }
        return result;
    }
}
