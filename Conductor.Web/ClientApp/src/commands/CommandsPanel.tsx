import { useEffect, useRef, useState, type FormEvent } from "react";
import type { CommandRun, RoomEvent } from "../api/contracts";
import { readEventData } from "../ai/sse";
import { ErrorText } from "../ui/ErrorText";
import { useServices } from "../ui/services";
import { applyCommandEvent, CommandOutput, parseCommandStreamData, type WatchedRun } from "./commandOutput";

interface Props {
  roomId: string;
  readOnly: boolean;
  subscribe: (listener: (event: RoomEvent) => void) => () => void;
}

/** Runs an allowlisted command in the room's sandbox and shows its output live; other members' runs follow from room events. */
export function CommandsPanel({ roomId, readOnly, subscribe }: Props) {
  const { api } = useServices();
  const [command, setCommand] = useState("npm test");
  const [run, setRun] = useState<CommandRun | null>(null);
  const [output, setOutput] = useState("");
  const [error, setError] = useState<unknown>(null);
  const [watched, setWatched] = useState<WatchedRun[]>([]);
  const mine = useRef<string | null>(null);
  const abort = useRef<AbortController | null>(null);

  useEffect(() => {
    return subscribe((event) => {
      // My own run streams to me directly; the room's events show everyone else's.
      if (event.command_id && event.command_id !== mine.current) {
        setWatched((runs) => applyCommandEvent(runs, event));
      }
    });
  }, [subscribe]);

  useEffect(() => () => abort.current?.abort(), []);

  const start = async (event: FormEvent) => {
    event.preventDefault();
    setError(null);
    setOutput("");
    setRun(null);
    const controller = new AbortController();
    abort.current = controller;
    const shown = new CommandOutput();
    try {
      const body = await api.runCommand(roomId, command, controller.signal);
      for await (const data of readEventData(body)) {
        const item = parseCommandStreamData(data);
        if (item?.kind === "run") {
          mine.current = item.run.id;
          setRun(item.run);
        } else if (item?.kind === "output" && shown.add(item.seq, item.text)) {
          setOutput(shown.value);
        }
      }
    } catch (failure) {
      if (!(failure instanceof DOMException && failure.name === "AbortError")) setError(failure);
    } finally {
      abort.current = null;
    }
  };

  const cancel = async () => {
    if (!run) return;
    setError(null);
    try {
      setRun(await api.cancelCommand(roomId, run.id));
    } catch (failure) {
      setError(failure);
    }
  };

  const running = run?.status === "running";
  return (
    <section className="commands" aria-labelledby="commands-heading">
      <h2 id="commands-heading">Commands</h2>
      <form onSubmit={(event) => void start(event)}>
        <label htmlFor="command-line">Command</label>{" "}
        <input id="command-line" value={command} onChange={(event) => setCommand(event.target.value)} disabled={readOnly || running} />{" "}
        <button type="submit" disabled={readOnly || running || command.trim() === ""}>Run</button>{" "}
        <button type="button" disabled={!running} onClick={() => void cancel()}>Cancel</button>
      </form>
      <ErrorText error={error} />
      {run && (
        <p role="status" className="command-status">
          {run.argv.join(" ")}: {run.status}
          {typeof run.exit_code === "number" && ` (exit ${run.exit_code})`}
          {typeof run.duration_ms === "number" && `, ${(run.duration_ms / 1000).toFixed(1)} s`}
        </p>
      )}
      <pre className="command-output" aria-label="Command output" aria-live="polite">{output}</pre>
      {watched.length > 0 && (
        <>
          <h3>Run by others</h3>
          {watched.map((other) => (
            <article key={other.commandId} className="command-watched">
              <p>
                {other.login}: {other.argv.join(" ")}: {other.status}
                {other.exitCode !== null && ` (exit ${other.exitCode})`}
              </p>
              <pre className="command-output" aria-label={`Output of ${other.argv.join(" ")} by ${other.login}`}>{other.output.value}</pre>
            </article>
          ))}
        </>
      )}
    </section>
  );
}
