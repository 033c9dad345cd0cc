import type { CommandRun, RoomEvent } from "../api/contracts";

/** One event of a command's stream (POST .../commands with Accept: text/event-stream, docs/commands.md). */
export type CommandStreamEvent = { kind: "run"; run: CommandRun } | { kind: "output"; seq: number; text: string };

/** Tells the stream's events apart by their shape: `started`/`finished` carry the run, `output` carries {seq, text}. */
export function parseCommandStreamData(data: string): CommandStreamEvent | null {
  try {
    const value = JSON.parse(data) as Partial<CommandRun> & { seq?: unknown; text?: unknown };
    if (typeof value.seq === "number" && typeof value.text === "string") {
      return { kind: "output", seq: value.seq, text: value.text };
    }
    if (typeof value.id === "string" && Array.isArray(value.argv) && typeof value.status === "string") {
      return { kind: "run", run: value as CommandRun };
    }
  } catch {
    // not JSON: ignored, as an SSE client ignores what it does not understand
  }
  return null;
}

/**
 * A command's output as shown: pieces applied once each and in seq order (room events and a watcher's stream can
 * repeat or reorder), bounded to the last `limit` characters so a chatty command cannot exhaust the page.
 */
export class CommandOutput {
  private text = "";
  private next = 1;
  private readonly early = new Map<number, string>();

  constructor(private readonly limit = 200_000) {}

  get value(): string {
    return this.text;
  }

  /** Adds piece `seq`; answers whether the shown text changed. */
  add(seq: number, piece: string): boolean {
    if (seq < this.next || this.early.has(seq)) return false;
    this.early.set(seq, piece);
    let changed = false;
    while (this.early.has(this.next)) {
      this.text += this.early.get(this.next)!;
      this.early.delete(this.next);
      this.next++;
      changed = true;
    }
    if (this.text.length > this.limit) {
      this.text = this.text.slice(this.text.length - this.limit);
    }
    return changed;
  }
}

/** A run as the room sees it from its events (someone else's command). */
export interface WatchedRun {
  commandId: string;
  login: string;
  argv: string[];
  status: string;
  exitCode: number | null;
  output: CommandOutput;
}

/** Applies a room event to the runs being watched; answers the new list (or the same one when unaffected). */
export function applyCommandEvent(runs: WatchedRun[], event: RoomEvent): WatchedRun[] {
  if (!event.command_id) return runs;
  const existing = runs.find((run) => run.commandId === event.command_id);
  switch (event.type) {
    case "command_started":
      if (existing) return runs;
      return [
        { commandId: event.command_id, login: event.login ?? "", argv: event.argv ?? [], status: "running", exitCode: null, output: new CommandOutput() },
        ...runs,
      ].slice(0, 10);
    case "command_output":
      if (!existing || typeof event.seq !== "number" || typeof event.text !== "string") return runs;
      return existing.output.add(event.seq, event.text) ? [...runs] : runs;
    case "command_finished":
      if (!existing) return runs;
      return runs.map((run) => (run === existing ? { ...run, status: event.status ?? "finished", exitCode: event.exit_code ?? null } : run));
    default:
      return runs;
  }
}
