/** The shared terminal's frames (docs/terminal.md). */
export type TerminalFrame =
  | { type: 'ready'; terminal_id: string; can_write: boolean; cols: number; rows: number; scrollback: string }
  | { type: 'output'; data: string }
  | { type: 'resized'; cols: number; rows: number }
  | { type: 'writers'; user_ids: string[] }
  | { type: 'exit'; code: number; reason: string }
  | { type: 'error'; code: string; message: string };

const types = new Set(['ready', 'output', 'resized', 'writers', 'exit', 'error']);

export function parseTerminalFrame(text: string): TerminalFrame | undefined {
  try {
    const value = JSON.parse(text) as { type?: unknown };
    return typeof value.type === 'string' && types.has(value.type) ? value as TerminalFrame : undefined;
  } catch {
    return undefined;
  }
}

/** VS Code's terminal wants CRLF line ends from a Pseudoterminal; a PTY already sends them, so only bare LFs change. */
export function toTerminalText(data: string): string {
  return data.replace(/\r?\n/g, '\r\n');
}

export function isTerminalId(id: string): boolean {
  return /^[a-z0-9-]{1,64}$/.test(id);
}
