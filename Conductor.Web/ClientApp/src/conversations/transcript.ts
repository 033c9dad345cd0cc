/** A conversation as a watcher sees it, built from the Api's stream events (docs/conversations.md). */
export interface LiveTurn {
  turn: number;
  botIndex: number;
  botName: string;
  provider: string;
  model: string;
  text: string;
  complete: boolean;
}

export interface Transcript {
  turns: LiveTurn[];
  /** The final status once `done` arrived. */
  status: string | null;
  error: string | null;
}

export type ConversationEvent =
  | { type: "turn_start"; turn: number; botIndex: number; botName: string; provider: string; model: string }
  | { type: "token"; turn: number; text: string }
  | { type: "turn_end"; turn: number }
  | { type: "error"; message: string }
  | { type: "done"; status: string; turns: number };

export const emptyTranscript: Transcript = { turns: [], status: null, error: null };

/** One event's data (its `type` member names it); null for anything not understood, which a client ignores. */
export function parseConversationEvent(data: string): ConversationEvent | null {
  let value: Record<string, unknown>;
  try {
    const parsed: unknown = JSON.parse(data);
    if (typeof parsed !== "object" || parsed === null) return null;
    value = parsed as Record<string, unknown>;
  } catch {
    return null;
  }
  const text = (key: string) => (typeof value[key] === "string" ? (value[key] as string) : "");
  const number = (key: string) => (typeof value[key] === "number" ? (value[key] as number) : -1);
  switch (value.type) {
    case "turn_start":
      return { type: "turn_start", turn: number("turn"), botIndex: number("bot_index"), botName: text("bot_name"), provider: text("provider"), model: text("model") };
    case "token":
      return { type: "token", turn: number("turn"), text: text("text") };
    case "turn_end":
      return { type: "turn_end", turn: number("turn") };
    case "error":
      return { type: "error", message: text("message") };
    case "done":
      return { type: "done", status: text("status"), turns: number("turns") };
    default:
      return null;
  }
}

/**
 * Applies an event. A turn_start for a turn already shown starts it over: after an Api restart the turn is generated
 * again, and the stream sends its start and the whole new text.
 */
export function applyEvent(transcript: Transcript, event: ConversationEvent): Transcript {
  switch (event.type) {
    case "turn_start": {
      const turn: LiveTurn = { turn: event.turn, botIndex: event.botIndex, botName: event.botName, provider: event.provider, model: event.model, text: "", complete: false };
      const turns = transcript.turns.filter((t) => t.turn !== event.turn).concat(turn).sort((a, b) => a.turn - b.turn);
      return { ...transcript, turns };
    }
    case "token":
      return { ...transcript, turns: transcript.turns.map((t) => (t.turn === event.turn ? { ...t, text: t.text + event.text } : t)) };
    case "turn_end":
      return { ...transcript, turns: transcript.turns.map((t) => (t.turn === event.turn ? { ...t, complete: true } : t)) };
    case "error":
      return { ...transcript, error: event.message };
    case "done":
      // A turn cut off by a stop was never stored: it is dropped, as the export has it.
      return { ...transcript, status: event.status, turns: transcript.turns.filter((t) => t.complete) };
  }
}
