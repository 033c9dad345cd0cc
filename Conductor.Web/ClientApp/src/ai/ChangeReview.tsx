import { useCallback, useEffect, useRef, useState, type FormEvent } from "react";
import type { AuditEntry, ChangeSet, ChangeSetSummary, FileEntry, PolicyDecision, RoomEvent } from "../api/contracts";
import { ApiError } from "../api/errors";
import { ErrorText } from "../ui/ErrorText";
import { useServices } from "../ui/services";
import { DiffView } from "./DiffView";
import { decisionOf, fromResult, progress, proposedBy, reviewStatus, touchesReview, type Decision } from "./review";

type Subscribe = (listener: (event: RoomEvent) => void) => () => void;

/**
 * The room's change review: generate a change set with the selected provider, and review every set proposed in the
 * room (a member's AI generation, a member's coding agent over MCP) — the list of sets waiting for a decision follows
 * the room's events live, and an opened set shows each change's diff with Apply and Skip.
 */
export function ChangeReview({ roomId, readOnly, subscribe }: { roomId: string; readOnly: boolean; subscribe: Subscribe }) {
  const { api } = useServices();
  const [files, setFiles] = useState<FileEntry[] | null>(null);
  const [instruction, setInstruction] = useState("");
  const [context, setContext] = useState<string[]>([]);
  const [sets, setSets] = useState<ChangeSetSummary[] | null>(null);
  const [showDecided, setShowDecided] = useState(false);
  const [changeSet, setChangeSet] = useState<ChangeSet | null>(null);
  const [policy, setPolicy] = useState<PolicyDecision | null>(null);
  const [originals, setOriginals] = useState<Record<string, string>>({});
  const [decisions, setDecisions] = useState<Record<string, Decision>>({});
  const [audit, setAudit] = useState<AuditEntry[]>([]);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  // The opened set's id for the room-event listener, which is subscribed once.
  const openId = useRef<string | null>(null);

  const loadAudit = useCallback(async () => {
    try {
      setAudit((await api.audit(roomId)).entries);
    } catch (failure) {
      setError(failure);
    }
  }, [api, roomId]);

  const loadSets = useCallback(async () => {
    try {
      setSets((await api.listChangeSets(roomId, showDecided ? "all" : "pending")).change_sets);
    } catch (failure) {
      setError(failure);
    }
  }, [api, roomId, showDecided]);

  /** Reloads the opened set: another reviewer may have decided some of its changes. */
  const refreshOpen = useCallback(async (changeSetId: string) => {
    try {
      const fresh = await api.getChangeSet(changeSetId);
      if (openId.current === changeSetId) setChangeSet(fresh);
    } catch (failure) {
      setError(failure);
    }
  }, [api]);

  useEffect(() => {
    api
      .listFiles(roomId)
      .then((entries) => setFiles(entries.filter((entry) => entry.type === "file")))
      .catch((failure: unknown) => {
        // No workspace yet: changes need one; say so instead of an error.
        if (failure instanceof ApiError && (failure.status === 404 || failure.status === 400 || failure.status === 409)) setFiles([]);
        else setError(failure);
      });
    void loadAudit();
  }, [api, roomId, loadAudit]);

  useEffect(() => {
    void loadSets();
  }, [loadSets]);

  useEffect(
    () =>
      subscribe((event) => {
        if (!touchesReview(event)) return;
        void loadSets();
        void loadAudit();
        if (event.change_set_id && event.change_set_id === openId.current) void refreshOpen(event.change_set_id);
      }),
    [subscribe, loadSets, loadAudit, refreshOpen],
  );

  /** Shows a set: its policy verdict and, per change, the file as it is now against the proposed content. */
  const show = async (set: ChangeSet, verdict: PolicyDecision | null) => {
    openId.current = set.change_set_id;
    setDecisions({});
    const read = await Promise.all(
      set.changes.map(async (change) =>
        change.type === "create" ? [change.file_path, ""] as const
          : [change.file_path, (await api.readFile(roomId, change.file_path).catch(() => null))?.content ?? ""] as const),
    );
    setOriginals(Object.fromEntries(read));
    setChangeSet(set);
    setPolicy(verdict ?? await api.evaluatePolicy(set.change_set_id));
  };

  const open = async (summary: ChangeSetSummary) => {
    setError(null);
    try {
      await show(await api.getChangeSet(summary.change_set_id), summary.policy);
    } catch (failure) {
      setError(failure);
    }
  };

  const generate = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    openId.current = null;
    setChangeSet(null);
    setPolicy(null);
    try {
      await show(await api.generateChanges(roomId, instruction.trim(), context), null);
      await loadSets();
    } catch (failure) {
      setError(failure);
    } finally {
      setBusy(false);
    }
  };

  const apply = async (changeId: string) => {
    if (!changeSet) return;
    setError(null);
    try {
      const [result] = await api.applyChanges(changeSet.change_set_id, [changeId]);
      if (result) setDecisions((d) => ({ ...d, [changeId]: fromResult(result) }));
      await Promise.all([loadAudit(), loadSets(), refreshOpen(changeSet.change_set_id)]);
    } catch (failure) {
      setError(failure);
    }
  };

  const skip = async (changeId: string, filePath: string) => {
    if (!changeSet) return;
    setError(null);
    try {
      await api.logDecision(roomId, changeId, "skipped", filePath);
      setDecisions((d) => ({ ...d, [changeId]: { kind: "skipped" } }));
      await Promise.all([loadAudit(), loadSets(), refreshOpen(changeSet.change_set_id)]);
    } catch (failure) {
      setError(failure);
    }
  };

  const toggle = (path: string, on: boolean) => setContext((list) => (on ? [...list, path] : list.filter((p) => p !== path)));

  return (
    <div className="changes">
      <h2>Change review</h2>
      {!readOnly && (
        <form className="generate" onSubmit={(event) => void generate(event)}>
          <label htmlFor="instruction">Describe the change</label>
          <textarea id="instruction" rows={3} value={instruction} onChange={(event) => setInstruction(event.target.value)} required maxLength={4000} />
          <fieldset>
            <legend>Context files</legend>
            {files === null ? (
              <span className="hint">Loading files…</span>
            ) : files.length === 0 ? (
              <span className="hint">The room has no workspace files yet.</span>
            ) : (
              files.map((file) => (
                <label key={file.path} className="checkbox">
                  <input type="checkbox" checked={context.includes(file.path)} onChange={(event) => toggle(file.path, event.target.checked)} />
                  {file.path}
                </label>
              ))
            )}
          </fieldset>
          <button type="submit" disabled={busy}>
            Generate changes
          </button>
        </form>
      )}
      <ErrorText error={error} />
      <div className="change-sets-header">
        <h3 id="proposed-heading">Proposed changes</h3>
        <label className="checkbox">
          <input type="checkbox" checked={showDecided} onChange={(event) => setShowDecided(event.target.checked)} />
          Show decided
        </label>
      </div>
      <ul className="change-sets" aria-labelledby="proposed-heading">
        {sets === null ? (
          <li className="hint">Loading…</li>
        ) : sets.length === 0 ? (
          <li className="hint">{showDecided ? "No changes were proposed in this room yet." : "Nothing waits for review."}</li>
        ) : (
          sets.map((set) => (
            <li key={set.change_set_id} data-change-set={set.change_set_id} data-source={set.source}
              className={set.change_set_id === changeSet?.change_set_id ? "selected" : undefined}>
              <button type="button" onClick={() => void open(set)}>Review</button>{" "}
              <span className="instruction">{set.instruction}</span>
              <span className="hint">
                {" "}by {proposedBy(set)} · <time dateTime={set.created_at}>{new Date(set.created_at).toLocaleTimeString()}</time> ·{" "}
                <span className={`verdict verdict-${set.policy.decision}`}>{set.policy.decision.replace(/_/g, " ")}</span>{" "}
                (risk {set.policy.risk_score.toFixed(2)}) · <span className="progress">{progress(set)}</span>
              </span>
            </li>
          ))
        )}
      </ul>
      {changeSet && (
        <section className="change-set" aria-label="Opened change set">
          <header>
            <strong>{changeSet.instruction}</strong>{" "}
            <span className="hint">by {proposedBy({ ...changeSet, created_by_login: changeSet.created_by_login ?? "" })}</span>
          </header>
          {policy && (
            <div className={`policy policy-${policy.decision}`} role="status">
              <strong>Policy: {policy.decision.replace(/_/g, " ")}</strong> (risk {policy.risk_score.toFixed(2)})
              {policy.reasons.length > 0 && (
                <ul>
                  {policy.reasons.map((reason) => (
                    <li key={reason}>{reason}</li>
                  ))}
                </ul>
              )}
            </div>
          )}
          {changeSet.changes.map((change) => {
            const decision = decisionOf(change) ?? decisions[change.id];
            return (
              <article key={change.id} className="change" data-file={change.file_path} aria-label={`${change.type} ${change.file_path}`}>
                <header>
                  <strong>{change.type}</strong> <code>{change.file_path}</code>
                  <span className="hint">{change.rationale}</span>
                </header>
                <DiffView path={change.file_path} original={originals[change.file_path] ?? ""} modified={change.content ?? ""} />
                {decision ? (
                  <p className={`decision decision-${decision.kind}`} role="status">{reviewStatus(decision)}</p>
                ) : (
                  !readOnly && (
                    <div className="change-actions">
                      <button type="button" onClick={() => void apply(change.id)}>Apply</button>
                      <button type="button" onClick={() => void skip(change.id, change.file_path)}>Skip</button>
                    </div>
                  )
                )}
              </article>
            );
          })}
        </section>
      )}
      <h3 id="audit-heading">Audit trail</h3>
      <ol className="audit" aria-labelledby="audit-heading">
        {audit.map((entry) => (
          <li key={entry.id}>
            <time dateTime={entry.created_at}>{new Date(entry.created_at).toLocaleTimeString()}</time> {entry.action}{" "}
            <code>{entry.file_path}</code> <span className="hint">({entry.source}{entry.detail ? `: ${entry.detail}` : ""})</span>
          </li>
        ))}
      </ol>
    </div>
  );
}
