/** One server-sent event: its `event` name (default `message`) and its joined `data` lines. */
export interface StreamEvent {
  readonly event: string;
  readonly data: string;
}

/**
 * Splits an event stream (the Api's command runs, docs/commands.md) into events as chunks arrive, split anywhere.
 * The WHATWG format: an event ends with a blank line, `data:` lines join with "\n", comments and other fields are
 * ignored.
 */
export class EventStreamParser {
  private buffer = '';
  private event = 'message';
  private data: string[] = [];

  push(chunk: string): StreamEvent[] {
    this.buffer += chunk;
    const events: StreamEvent[] = [];
    for (;;) {
      const newline = this.buffer.search(/\r\n|\n|\r/);
      if (newline < 0 || (this.buffer[newline] === '\r' && newline + 1 === this.buffer.length)) {
        return events;
      }
      const line = this.buffer.slice(0, newline);
      this.buffer = this.buffer.slice(newline + (this.buffer.startsWith('\r\n', newline) ? 2 : 1));
      if (line === '') {
        if (this.data.length > 0) {
          events.push({ event: this.event, data: this.data.join('\n') });
        }
        this.event = 'message';
        this.data = [];
      } else if (line.startsWith('data:')) {
        this.data.push(line.slice(line.startsWith('data: ') ? 6 : 5));
      } else if (line.startsWith('event:')) {
        this.event = line.slice(line.startsWith('event: ') ? 7 : 6);
      }
    }
  }
}

/** A command run as the Api answers it. */
export interface CommandRun {
  readonly id: string;
  readonly argv: readonly string[];
  readonly status: string;
  /** Left out by the Api while running, and when the run ended without one (timed out, cancelled). */
  readonly exit_code?: number | null;
  readonly duration_ms?: number | null;
}

/** What the output channel shows for a finished run. */
export function describeRun(run: CommandRun): string {
  const exit = typeof run.exit_code === 'number' ? ` (exit ${run.exit_code})` : '';
  const duration = typeof run.duration_ms === 'number' ? ` in ${(run.duration_ms / 1000).toFixed(1)} s` : '';
  return `${run.argv.join(' ')}: ${run.status}${exit}${duration}`;
}
