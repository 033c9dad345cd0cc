import { useCallback, useEffect, useState, type FormEvent } from "react";
import type { ApplyResult, AuditEntry, ChangeSet, FileEntry, PolicyDecision } from "../api/contracts";
import { ApiError } from "../api/errors";
import { ErrorText } from "../ui/ErrorText";
import { useServices } from "../ui/services";
import { DiffView } from "./DiffView";
import { reviewStatus, type Decision } from "./review";

export function ChangeReview({ roomId, readOnly }: { roomId: string; readOnly: boolean }) {
  const { api } = useServices();
  const [files, setFiles] = useState<FileEntry[] | null>(null);
  const [instruction, setInstruction] = useState("");
  const [context, setContext] = useState<string[]>([]);
  const [changeSet, setChangeSet] = useState<ChangeSet | null>(null);
  const [policy, setPolicy] = useState<PolicyDecision | null>(null);
  const [originals, setOriginals] = useState<Record<string, string>>({});
  const [decisions, setDecisions] = useState<Record<string, Decision>>({});
  const [audit, setAudit] = useState<AuditEntry[]>([]);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);

  const loadAudit = useCallback(async () => {
    try {
      setAudit((await api.audit(roomId)).entries);
    } catch (failure) {
      setError(failure);
    }
  }, [api, roomId]);

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

  const generate = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    setChangeSet(null);
    setPolicy(null);
    setDecisions({});
    try {
      const generated = await api.generateChanges(roomId, instruction.trim(), context);
      const read = await Promise.all(
        generated.changes.map(async (change) =>
          change.type === "create" ? [change.file_path, ""] as const
            : [change.file_path, (await api.readFile(roomId, change.file_path).catch(() => null))?.content ?? ""] as const),
      );
      setOriginals(Object.fromEntries(read));
      setChangeSet(generated);
      setPolicy(await api.evaluatePolicy(generated.change_set_id));
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
      await loadAudit();
    } catch (failure) {
      setError(failure);
    }
  };

  const skip = async (changeId: string, filePath: string) => {
    setError(null);
    try {
      await api.logDecision(roomId, changeId, "skipped", filePath);
      setDecisions((d) => ({ ...d, [changeId]: { kind: "skipped" } }));
      await loadAudit();
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
      {changeSet?.changes.map((change) => {
        const decision = decisions[change.id];
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

function fromResult(result: ApplyResult): Decision {
  return result.outcome === "applied" ? { kind: "applied" } : { kind: "conflict", detail: result.detail ?? "refused" };
}
