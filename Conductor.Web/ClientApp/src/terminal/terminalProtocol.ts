/** The shared terminal's socket protocol (docs/terminal.md). */
export type TerminalFrame =
  | { type: "ready"; terminal_id: string; host_user_id: string; can_write: boolean; cols: number; rows: number; scrollback: string }
  | { type: "output"; data: string }
  | { type: "resized"; cols: number; rows: number }
  | { type: "writers"; user_ids: string[] }
  | { type: "exit"; code: number; reason: string }
  | { type: "error"; code: string; message: string };

const frameTypes = new Set(["ready", "output", "resized", "writers", "exit", "error"]);

/** A server frame, or null for anything that is not one (ignored). */
export function parseTerminalFrame(text: string): TerminalFrame | null {
  try {
    const value = JSON.parse(text) as { type?: unknown };
    return typeof value.type === "string" && frameTypes.has(value.type) ? (value as TerminalFrame) : null;
  } catch {
    return null;
  }
}

/**
 * The socket's URL on the page's own origin (Conductor.Web forwards /api/** to the Api, sockets included), with a
 * single-use socket ticket: a browser cannot set headers on a WebSocket, and the access token never goes in a URL.
 */
export function terminalSocketUrl(origin: string, roomId: string, terminalId: string, ticket: string, cols: number, rows: number): string {
  const url = new URL(`/api/ws/terminal/${encodeURIComponent(roomId)}/${encodeURIComponent(terminalId)}`, origin);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  url.searchParams.set("ticket", ticket);
  url.searchParams.set("cols", String(cols));
  url.searchParams.set("rows", String(rows));
  return url.toString();
}

/** Terminal ids are 1 to 64 of a-z, 0-9 and '-'. */
export function isTerminalId(id: string): boolean {
  return /^[a-z0-9-]{1,64}$/.test(id);
}
