using System.Text.RegularExpressions;

namespace Conductor.Workspaces.Personal;

/// <summary>
/// Names of a member's own worktree. The branch is <c>session/{room_id}-{login}</c>, not <c>session/{room_id}/{login}</c>:
/// git keeps refs as files, so <c>refs/heads/session/{room_id}</c> (the room's branch) cannot also be a folder. The
/// worktree's name in the store is <c>{room_id}-{login}</c> (libgit2 refuses a '/' in it) and its folder is
/// <c>personal/{room_id}/{login}</c> under the workspace root.
/// </summary>
public static partial class PersonalWorktreeNames
{
    /// <summary>GitHub's login rules (what dev login and GitHub sign-in accept): safe in a ref, a path and a worktree name.</summary>
    public static bool IsValidLogin(string login) => Login().IsMatch(login);

    public static string Branch(Guid roomId, string login) => $"session/{roomId:D}-{Check(login)}";

    public static string WorktreeName(Guid roomId, string login) => $"{roomId:D}-{Check(login)}";

    public static string Folder(WorkspaceOptions options, Guid roomId, string login) =>
        Path.Combine(options.Root, "personal", roomId.ToString("D"), Check(login));

    /// <summary>The folder holding every member worktree of the room (removed with the workspace).</summary>
    public static string RoomFolder(WorkspaceOptions options, Guid roomId) => Path.Combine(options.Root, "personal", roomId.ToString("D"));

    private static string Check(string login) =>
        IsValidLogin(login) ? login : throw new ArgumentException($"'{login}' is not a valid login.", nameof(login));

    [GeneratedRegex("^[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}$", RegexOptions.CultureInvariant)]
    private static partial Regex Login();
}
