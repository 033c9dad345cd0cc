import { useCallback, useEffect, useRef, useState, type FormEvent, type ReactNode } from "react";
import type { CommitResult, FileEntry, RoomEvent, Workspace, WorktreeChoice } from "../api/contracts";
import { ApiError } from "../api/errors";
import { ErrorText } from "../ui/ErrorText";
import { useServices } from "../ui/services";
import { CodeEditor, type Reveal } from "./CodeEditor";
import { changedElsewhere, edited, isDirty, openFile, overwriteTheirs, refused, saved, type OpenFile } from "./editorState";
import { MyWorktreePanel } from "./MyWorktreePanel";
import { SearchPanel } from "./SearchPanel";

interface Props {
  roomId: string;
  readOnly: boolean;
  subscribe: (listener: (event: RoomEvent) => void) => () => void;
}

type Loaded = { kind: "loading" } | { kind: "none" } | { kind: "workspace"; workspace: Workspace };

export function WorkspacePanel({ roomId, readOnly, subscribe }: Props) {
  const { api } = useServices();
  const [state, setState] = useState<Loaded>({ kind: "loading" });
  const [progress, setProgress] = useState<{ value: number | null; message: string } | null>(null);
  const [error, setError] = useState<unknown>(null);

  const load = useCallback(async () => {
    try {
      setState({ kind: "workspace", workspace: await api.getWorkspace(roomId) });
    } catch (failure) {
      if (failure instanceof ApiError && failure.status === 404) {
        setState({ kind: "none" });
      } else {
        setError(failure);
      }
    }
  }, [api, roomId]);

  useEffect(() => {
    void load();
  }, [load]);

  // Job progress and status changes arrive as room events; a slow poll covers a missed event.
  useEffect(
    () =>
      subscribe((event) => {
        if (event.type === "job" && (event.message || event.progress !== undefined)) {
          setProgress({ value: event.progress ?? null, message: event.message ?? "" });
        }
        if (event.type === "workspace") {
          void load();
        }
      }),
    [subscribe, load],
  );
  const creating = state.kind === "workspace" && state.workspace.status === "creating";
  useEffect(() => {
    if (!creating) return;
    const timer = window.setInterval(() => void load(), 2000);
    return () => window.clearInterval(timer);
  }, [creating, load]);

  if (state.kind === "loading") {
    return <section className="workspace"><p aria-busy="true">Loading workspace…</p><ErrorText error={error} /></section>;
  }
  if (state.kind === "none" || state.workspace.status === "failed") {
    return (
      <section className="workspace">
        {state.kind === "workspace" && (
          <p className="error" role="alert">
            Creating the workspace failed: {state.workspace.error ?? "unknown reason"}
          </p>
        )}
        {readOnly ? <p>This room has no workspace.</p> : <CreateWorkspaceForm roomId={roomId} onCreated={() => void load()} />}
      </section>
    );
  }
  const workspace = state.workspace;
  if (workspace.status !== "ready") {
    const percent = progress?.value === null || progress?.value === undefined ? null : progress.value <= 1 ? progress.value : progress.value / 100;
    return (
      <section className="workspace">
        <h2>Workspace</h2>
        <p role="status">
          {workspace.status === "creating" ? "Cloning" : workspace.status} {workspace.repo_url}…
        </p>
        <label className="progress">
          Clone progress
          <progress max={1} value={percent ?? undefined} />
        </label>
        {progress?.message && <p className="hint">{progress.message}</p>}
      </section>
    );
  }
  return <WorktreeChooser workspace={workspace} roomId={roomId} readOnly={readOnly} subscribe={subscribe} />;
}

function CreateWorkspaceForm({ roomId, onCreated }: { roomId: string; onCreated: () => void }) {
  const { api } = useServices();
  const [repoUrl, setRepoUrl] = useState("");
  const [baseBranch, setBaseBranch] = useState("main");
  const [token, setToken] = useState("");
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await api.createWorkspace(roomId, repoUrl.trim(), baseBranch.trim(), token);
      setToken(""); // the Api keeps it encrypted; the page does not
      onCreated();
    } catch (failure) {
      setError(failure);
    } finally {
      setBusy(false);
    }
  };

  return (
    <form className="create-workspace" onSubmit={(event) => void submit(event)}>
      <h2>Open a workspace</h2>
      <p className="hint">A shared clone of your repository on a session branch that everyone in the room edits.</p>
      <label htmlFor="repo-url">Repository URL</label>
      <input id="repo-url" value={repoUrl} onChange={(event) => setRepoUrl(event.target.value)} required placeholder="https://github.com/org/repo.git" />
      <label htmlFor="base-branch">Base branch</label>
      <input id="base-branch" value={baseBranch} onChange={(event) => setBaseBranch(event.target.value)} />
      <label htmlFor="repo-token">Access token</label>
      <input id="repo-token" type="password" autoComplete="off" value={token} onChange={(event) => setToken(event.target.value)} />
      <p className="hint">Optional for public repositories. Used by the server only; never shown again.</p>
      <button type="submit" disabled={busy}>
        Create workspace
      </button>
      <ErrorText error={error} />
    </form>
  );
}

/** The room's shared worktree, or the member's own one (edited privately, merged into the room with Sync). */
function WorktreeChooser({ workspace, roomId, readOnly, subscribe }: { workspace: Workspace } & Props) {
  const [worktree, setWorktree] = useState<WorktreeChoice>("room");
  const [revision, setRevision] = useState(0);
  // Rendered in the side column of the one workspace section, so the room's layout keeps a single panel here.
  const chooser = readOnly ? null : (
    <>
      <fieldset className="worktree-choice">
        <legend>Worktree</legend>
        <label>
          <input type="radio" name="worktree" checked={worktree === "room"} onChange={() => setWorktree("room")} />
          Room's worktree
        </label>
        <label>
          <input type="radio" name="worktree" checked={worktree === "me"} onChange={() => setWorktree("me")} />
          My worktree
        </label>
      </fieldset>
      {worktree === "me" && <MyWorktreePanel roomId={roomId} subscribe={subscribe} onSynced={() => setRevision((n) => n + 1)} />}
    </>
  );
  return (
    <ReadyWorkspace key={worktree} workspace={workspace} roomId={roomId} readOnly={readOnly} subscribe={subscribe} worktree={worktree}
      chooser={chooser} revision={revision} />
  );
}

/** `revision` changes after a sync or publish rewrote the member's worktree: the file list is read again. */
function ReadyWorkspace({ workspace, roomId, readOnly, subscribe, worktree, chooser, revision }:
  { workspace: Workspace; worktree: WorktreeChoice; chooser: ReactNode; revision: number } & Props) {
  const { api } = useServices();
  const [files, setFiles] = useState<FileEntry[]>([]);
  const [file, setFileState] = useState<OpenFile | null>(null);
  const [reveal, setReveal] = useState<Reveal | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [commitMessage, setCommitMessage] = useState("");
  const [push, setPush] = useState(true);
  const [commitResult, setCommitResult] = useState<CommitResult | null>(null);
  const [committing, setCommitting] = useState(false);
  // The open file as of now, not as of the last render: an answer handled between a change and the render that shows
  // it (a save's echo read back right after the save's own answer) must see that change, or it takes the user's own
  // save for someone else's. Every change goes through setFile, which moves the ref first.
  const fileRef = useRef<OpenFile | null>(null);
  const setFile = useCallback((next: OpenFile | null | ((current: OpenFile | null) => OpenFile | null)) => {
    fileRef.current = typeof next === "function" ? next(fileRef.current) : next;
    setFileState(fileRef.current);
  }, []);
  /** The text of the save on its way (its echo can come back before its answer); one save at a time. */
  const saving = useRef<{ path: string; text: string } | null>(null);
  const [saveInFlight, setSaveInFlight] = useState(false);

  const loadFiles = useCallback(async () => {
    try {
      setFiles((await api.listFiles(roomId, worktree)).filter((entry) => entry.type === "file"));
    } catch (failure) {
      setError(failure);
    }
  }, [api, roomId, worktree]);

  useEffect(() => {
    void loadFiles();
  }, [loadFiles, revision]);

  const open = useCallback(
    async (path: string, line?: number, column?: number) => {
      setError(null);
      setNotice(null);
      try {
        const content = await api.readFile(roomId, path, worktree);
        if (content.encoding !== "utf-8") {
          setError(new Error(`${path} is a binary file; it cannot be edited here.`));
          return;
        }
        setFile(openFile(path, content.content, content.etag));
        if (line) setReveal({ line, column: column ?? 1, key: Date.now() });
      } catch (failure) {
        setError(failure);
      }
    },
    [api, roomId, worktree, setFile],
  );

  // Someone else's change to the open file: take it, or keep the user's edits and say there is a conflict.
  useEffect(
    () =>
      subscribe((event) => {
        // file_changed events are about the room's worktree; the member's own is theirs alone.
        if (event.type !== "file_changed" || worktree === "me") return;
        void loadFiles();
        const current = fileRef.current;
        if (!current || (event.path !== current.path && event.from !== current.path)) return;
        if (event.change === "deleted" || event.change === "renamed") {
          setNotice(`${current.path} was ${event.change} by another member.`);
          return;
        }
        void api
          .readFile(roomId, current.path)
          .then((content) => {
            const latest = fileRef.current;
            if (!latest || latest.path !== content.path) return;
            const inFlight = saving.current?.path === latest.path ? saving.current.text : null;
            const next = changedElsewhere(latest, content.content, content.etag, inFlight);
            if (next === latest) return;
            setFile(next);
            // Only their text replacing the editor's is news; a version that matches the editor's text is not.
            if (next.conflictEtag) setNotice(null);
            else if (next.text !== latest.text) setNotice(`${content.path} was updated by another member.`);
          })
          .catch(() => undefined);
      }),
    [subscribe, loadFiles, api, roomId, worktree, setFile],
  );

  /**
   * Saves `current` (the file as it is when Save is pressed: the ref, which has every keystroke even before it is
   * rendered); the answer applies to the file as it is when it comes.
   */
  const save = async (current: OpenFile) => {
    // A second save sent before the first is answered would name the version the first replaces: a 412 on oneself.
    if (saving.current) return;
    setError(null);
    saving.current = { path: current.path, text: current.text };
    setSaveInFlight(true);
    try {
      const etag = await api.writeFile(roomId, current.path, current.text, current.etag, worktree);
      setFile((latest) => (latest?.path === current.path ? saved(latest, current, etag) : latest));
      setNotice(`Saved ${current.path}.`);
      void loadFiles();
    } catch (failure) {
      if (failure instanceof ApiError && failure.status === 412) {
        const theirs = await api.readFile(roomId, current.path, worktree).catch(() => null);
        setFile((latest) => (latest?.path === current.path ? refused(latest, theirs?.etag ?? "unknown") : latest));
        return;
      }
      setError(failure);
    } finally {
      saving.current = null;
      setSaveInFlight(false);
    }
  };

  const newFile = async () => {
    const path = window.prompt("New file path (e.g. src/notes.md)");
    if (!path) return;
    setFile(openFile(path.trim(), "", null));
  };

  const rename = async () => {
    if (!file || file.etag === null) return;
    const to = window.prompt("Rename to", file.path);
    if (!to || to === file.path) return;
    try {
      const answer = await api.renameFile(roomId, file.path, to.trim(), worktree);
      setFile((latest) => (latest?.path === file.path ? { ...latest, path: answer.path } : latest));
      void loadFiles();
    } catch (failure) {
      setError(failure);
    }
  };

  const remove = async () => {
    if (!file || file.etag === null || !window.confirm(`Delete ${file.path}?`)) return;
    try {
      await api.deleteFile(roomId, file.path, file.etag, worktree);
      setFile(null);
      void loadFiles();
    } catch (failure) {
      setError(failure);
    }
  };

  const commit = async (event: FormEvent) => {
    event.preventDefault();
    setCommitting(true);
    setError(null);
    setCommitResult(null);
    try {
      const result = await api.commit(roomId, commitMessage.trim(), push);
      if (result) {
        setCommitResult(result);
        if (result.committed) setCommitMessage("");
      } else {
        setNotice("The commit is still running; its result will appear in the room's activity.");
      }
    } catch (failure) {
      setError(failure);
    } finally {
      setCommitting(false);
    }
  };

  return (
    <section className="workspace ready">
      <div className="workspace-side">
        {chooser}
        <p className="branch">
          <span className="hint">{workspace.repo_url}</span>
          <br />
          Branch <code>{workspace.branch}</code>
        </p>
        <SearchPanel roomId={roomId} worktree={worktree} onOpen={(path, line, column) => void open(path, line, column)} />
        <h3 id="files-heading">Files</h3>
        {!readOnly && (
          <button type="button" onClick={() => void newFile()}>
            New file
          </button>
        )}
        <ul className="file-tree" aria-labelledby="files-heading">
          {files.map((entry) => (
            <li key={entry.path}>
              <button type="button" className={`link${file?.path === entry.path ? " current" : ""}`} onClick={() => void open(entry.path)}>
                {entry.path}
              </button>
            </li>
          ))}
        </ul>
      </div>
      <div className="workspace-main">
        {file ? (
          <>
            <div className="editor-bar">
              <strong className="path">{file.path}</strong>
              {isDirty(file) && <span className="dirty">unsaved</span>}
              {!readOnly && (
                <>
                  <button type="button" onClick={() => fileRef.current && void save(fileRef.current)} disabled={(!isDirty(file) && file.etag !== null) || file.conflictEtag !== null || saveInFlight}>
                    Save
                  </button>
                  <button type="button" onClick={() => void rename()} disabled={file.etag === null}>
                    Rename
                  </button>
                  <button type="button" className="danger" onClick={() => void remove()} disabled={file.etag === null}>
                    Delete
                  </button>
                </>
              )}
            </div>
            {file.conflictEtag && (
              <div className="conflict" role="alert">
                Someone else saved {file.path} after you opened it. Your edits are kept here and were not saved.
                <button type="button" onClick={() => void open(file.path)}>
                  Load their version
                </button>
                <button type="button" className="danger" onClick={() => fileRef.current && void save(overwriteTheirs(fileRef.current))}>
                  Overwrite with mine
                </button>
              </div>
            )}
            <CodeEditor
              path={file.path}
              text={file.text}
              readOnly={readOnly}
              reveal={reveal}
              onChange={(text) => setFile((current) => (current && current.text !== text ? edited(current, text) : current))}
            />
          </>
        ) : (
          <p className="hint">Open a file from the list or the search results.</p>
        )}
        {notice && <p role="status" className="hint">{notice}</p>}
        <ErrorText error={error} />
        {!readOnly && worktree === "room" && (
          <form className="commit" onSubmit={(event) => void commit(event)}>
            <label htmlFor="commit-message">Commit message</label>
            <input id="commit-message" value={commitMessage} onChange={(event) => setCommitMessage(event.target.value)} required />
            <label className="checkbox">
              <input type="checkbox" checked={push} onChange={(event) => setPush(event.target.checked)} />
              Push
            </label>
            <button type="submit" disabled={committing}>
              Commit
            </button>
          </form>
        )}
        {commitResult && (
          <p role="status" className="commit-result">
            {commitResult.committed
              ? `Committed ${commitResult.commit.slice(0, 12)}${commitResult.pushed ? ` and pushed ${workspace.branch}` : `; push failed: ${commitResult.push_error ?? "unknown reason"}`}.`
              : `Nothing committed: ${commitResult.reason}.`}
          </p>
        )}
      </div>
    </section>
  );
}
