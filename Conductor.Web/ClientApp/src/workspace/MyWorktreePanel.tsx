import { useCallback, useEffect, useState } from "react";
import type { PersonalWorktree, RoomEvent, SyncConflict } from "../api/contracts";
import { ErrorText } from "../ui/ErrorText";
import { useServices } from "../ui/services";
import { describeConflict, describePublish, describeSync, describeWorktree, syncConflicts } from "./syncState";

interface Props {
  roomId: string;
  subscribe: (listener: (event: RoomEvent) => void) => () => void;
  /** Called after a sync or publish changed the member's worktree (the file list reloads). */
  onSynced: () => void;
}

/**
 * The member's own worktree: where it stands against the room's branch, and Sync (commit it, merge it into the
 * room's branch, bring it up to date) and Publish (sync, then push the room's branch to origin). Conflicts are
 * listed file by file; nothing of a conflicting sync reaches the room.
 */
export function MyWorktreePanel({ roomId, subscribe, onSynced }: Props) {
  const { api } = useServices();
  const [state, setState] = useState<PersonalWorktree | null>(null);
  const [message, setMessage] = useState("");
  const [busy, setBusy] = useState(false);
  const [outcome, setOutcome] = useState<string | null>(null);
  const [conflicts, setConflicts] = useState<SyncConflict[]>([]);
  const [error, setError] = useState<unknown>(null);

  const load = useCallback(async () => {
    try {
      setState(await api.myWorktree(roomId));
    } catch (failure) {
      setError(failure);
    }
  }, [api, roomId]);

  useEffect(() => {
    void load();
  }, [load]);

  // Another member's sync moves the room's branch: "behind" changes.
  useEffect(
    () =>
      subscribe((event) => {
        if (event.type === "workspace_sync" || event.type === "workspace") void load();
      }),
    [subscribe, load],
  );

  const run = async (publish: boolean) => {
    setBusy(true);
    setError(null);
    setOutcome(null);
    setConflicts([]);
    try {
      setOutcome(publish ? describePublish(await api.publish(roomId, message.trim())) : describeSync(await api.sync(roomId, message.trim())));
      setMessage("");
      onSynced();
    } catch (failure) {
      const found = syncConflicts(failure);
      if (found) {
        setConflicts(found);
      } else {
        setError(failure);
      }
    } finally {
      setBusy(false);
      void load();
    }
  };

  return (
    <section className="my-worktree" aria-labelledby="my-worktree-heading">
      <h3 id="my-worktree-heading">My worktree</h3>
      {state ? <p role="status">{describeWorktree(state)}</p> : <p aria-busy="true">Loading your worktree…</p>}
      <label htmlFor="sync-message">Sync message</label>
      <input id="sync-message" value={message} onChange={(event) => setMessage(event.target.value)} placeholder="What you changed" />
      <div className="actions">
        <button type="button" onClick={() => void run(false)} disabled={busy}>
          Sync
        </button>
        <button type="button" onClick={() => void run(true)} disabled={busy}>
          Publish
        </button>
      </div>
      {outcome && <p role="status" className="sync-result">{outcome}</p>}
      {conflicts.length > 0 && (
        <div role="alert" className="sync-conflicts">
          <p>Nothing was merged: these files changed on both sides. Your work is committed on {state?.branch ?? "your branch"}; fix the files and sync again.</p>
          <ul>
            {conflicts.map((conflict) => (
              <li key={conflict.path}>
                {describeConflict(conflict)}
                {conflict.ours !== null && conflict.theirs !== null && (
                  <details>
                    <summary>Both versions of {conflict.path}</summary>
                    <pre aria-label={`Room's version of ${conflict.path}`}>{conflict.ours}</pre>
                    <pre aria-label={`Your version of ${conflict.path}`}>{conflict.theirs}</pre>
                  </details>
                )}
              </li>
            ))}
          </ul>
        </div>
      )}
      <ErrorText error={error} />
    </section>
  );
}
