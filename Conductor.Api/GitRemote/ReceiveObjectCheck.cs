namespace Conductor.Api.GitRemote;

/// <summary>
/// The pre-receive hook every push to a room runs: a pushed ref may reach only objects that arrived with the push
/// (receive-pack's quarantine) or that the room's own refs reach. Stores are shared by the rooms on a remote, and
/// receive-pack's connectivity check only asks whether an object exists: without this, a member allowed to push could
/// push a commit naming another room's commit as its parent (or tree), then fetch it back through their own room
/// (gitnamespaces(7), "Security": "the fetch and push protocols are not designed to prevent one side from stealing
/// data from the other repository"). The room's tips reach the hook as <c>conductor.tip</c> settings. A shell script
/// because git runs hooks as programs; it uses only git and POSIX tools.
/// </summary>
public static class ReceiveObjectCheck
{
    private static readonly Lock Gate = new();

    public const string Script = """
        #!/bin/sh
        # Conductor's pre-receive hook (Conductor.Api/GitRemote/ReceiveObjectCheck.cs): a pushed ref may reach only
        # objects sent with this push or reachable from the room's own refs (conductor.tip settings).
        set -u
        tips=$(git config --get-all conductor.tip || true)
        tmp=$(mktemp -d) || exit 1
        trap 'rm -rf "$tmp"' EXIT
        status=0
        while read -r old new ref; do
            case "$new" in *[!0]*) ;; *) continue ;; esac
            # What the new tip reaches and the room's tips do not (git's walk may list a few that they do reach).
            if ! git rev-list --objects --no-object-names "$new" --not $tips > "$tmp/listed"; then
                echo "Conductor: $ref names objects this push did not send"
                status=1
                continue
            fi
            # Of those, what did not arrive with this push.
            if [ -n "${GIT_QUARANTINE_PATH:-}" ]; then
                GIT_ALTERNATE_OBJECT_DIRECTORIES= GIT_OBJECT_DIRECTORY="$GIT_QUARANTINE_PATH" \
                    git cat-file --batch-check='%(objectname) %(objecttype)' < "$tmp/listed" | awk '$2 == "missing" { print $1 }' > "$tmp/old"
            else
                cp "$tmp/listed" "$tmp/old"
            fi
            [ -s "$tmp/old" ] || continue
            # Those must be the room's already: every object its tips reach is listed (only in this rare case).
            if [ ! -f "$tmp/reach" ]; then
                if [ -n "$tips" ]; then git rev-list --objects --no-object-names $tips | sort -u > "$tmp/reach"; else : > "$tmp/reach"; fi
            fi
            sort -u "$tmp/old" | comm -23 - "$tmp/reach" > "$tmp/foreign"
            if [ -s "$tmp/foreign" ]; then
                echo "Conductor: $ref names objects this push did not send and this room's branches do not reach; push them with it"
                status=1
            fi
        done
        exit $status

        """;

    /// <summary>Writes the hook (0700) under <paramref name="scratchPath"/> if it is not there; returns the hooks folder for <c>core.hooksPath</c>.</summary>
    public static string EnsureInstalled(string scratchPath)
    {
        var folder = Path.Combine(scratchPath, "git-remote-hooks");
        var hook = Path.Combine(folder, "pre-receive");
        lock (Gate)
        {
            if (!File.Exists(hook) || File.ReadAllText(hook) != Script)
            {
                Directory.CreateDirectory(folder);
                var temporary = hook + ".tmp";
                File.WriteAllText(temporary, Script);
                if (!OperatingSystem.IsWindows()) // git runs hooks as programs: the script must be executable
                {
                    File.SetUnixFileMode(temporary, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
                }
                File.Move(temporary, hook, overwrite: true);
            }
        }
        return folder;
    }
}
