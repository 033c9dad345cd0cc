/**
 * Reads a text/event-stream body (the Api's /ai/infer) and yields each event's data. Written here because the
 * browser's EventSource cannot POST or send an Authorization header; the format is the WHATWG one: events end
 * with a blank line, `data:` lines join with "\n", other fields and comments are ignored.
 */
export async function* readEventData(stream: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  const reader = stream.getReader();
  const decoder = new TextDecoder();
  const parser = new EventDataParser();
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      yield* parser.push(decoder.decode(value, { stream: true }));
    }
    yield* parser.push(decoder.decode() + "\n\n");
  } finally {
    reader.releaseLock();
  }
}

/**
 * Like readEventData, with the stream's last event id as of each event (the `id:` field, kept until the next one),
 * which a client sends back as Last-Event-ID to resume.
 */
export async function* readEvents(stream: ReadableStream<Uint8Array>): AsyncGenerator<{ data: string; lastEventId: string }> {
  const reader = stream.getReader();
  const decoder = new TextDecoder();
  const parser = new EventDataParser();
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      for (const data of parser.push(decoder.decode(value, { stream: true }))) yield { data, lastEventId: parser.lastEventId };
    }
    for (const data of parser.push(decoder.decode() + "\n\n")) yield { data, lastEventId: parser.lastEventId };
  } finally {
    reader.releaseLock();
  }
}

export class EventDataParser {
  private buffer = "";
  private data: string[] = [];
  /** The last `id:` field seen (WHATWG: an id holding NUL is ignored). */
  lastEventId = "";

  /** Feeds a chunk (any split, even mid-line); answers the data of every event completed by it. */
  *push(chunk: string): Generator<string> {
    this.buffer += chunk;
    for (;;) {
      const newline = this.buffer.search(/\r\n|\r|\n/);
      if (newline < 0) return;
      const line = this.buffer.slice(0, newline);
      const length = this.buffer.startsWith("\r\n", newline) ? 2 : 1;
      // A lone \r at the end may be the first half of \r\n: wait for the next chunk.
      if (this.buffer[newline] === "\r" && newline + 1 === this.buffer.length) return;
      this.buffer = this.buffer.slice(newline + length);
      if (line === "") {
        if (this.data.length > 0) {
          yield this.data.join("\n");
          this.data = [];
        }
      } else if (line.startsWith("data:")) {
        this.data.push(line.slice(line.startsWith("data: ") ? 6 : 5));
      } else if (line.startsWith("id:")) {
        const id = line.slice(line.startsWith("id: ") ? 4 : 3);
        if (!id.includes("\0")) this.lastEventId = id;
      }
    }
  }
}

export type InferEvent = { kind: "token"; text: string } | { kind: "error"; message: string } | { kind: "done" };

/** The Api's infer events: {"token"}, {"error"}, then [DONE]. */
export function parseInferData(data: string): InferEvent | null {
  if (data === "[DONE]") return { kind: "done" };
  try {
    const value = JSON.parse(data) as { token?: unknown; error?: unknown };
    if (typeof value.token === "string") return { kind: "token", text: value.token };
    if (typeof value.error === "string") return { kind: "error", message: value.error };
  } catch {
    // not JSON: ignore, as an SSE client ignores what it does not understand
  }
  return null;
}
