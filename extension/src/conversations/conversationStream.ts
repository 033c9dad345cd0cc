/**
 * Agent conversations (docs/conversations.md) as the extension follows them: the Api's event stream parsed frame by
 * frame with its event ids (sent back as Last-Event-ID to resume after a drop), and a transcript built from it.
 */

export interface StreamFrame {
  /** The stream's last event id once this frame is applied (WHATWG: kept until the next `id:`). */
  readonly lastEventId: string;
  readonly data: string;
}

/** WHATWG event-stream parsing: frames end with a blank line, `data:` lines join with "\n", comments are ignored. */
export class EventStreamParser {
  private buffer = '';
  private data: string[] = [];
  private lastEventId = '';

  constructor(lastEventId?: string) {
    this.lastEventId = lastEventId ?? '';
  }

  push(chunk: string): StreamFrame[] {
    this.buffer += chunk;
    const frames: StreamFrame[] = [];
    for (;;) {
      const newline = this.buffer.search(/\r\n|\r|\n/);
      if (newline < 0 || (this.buffer[newline] === '\r' && newline + 1 === this.buffer.length)) {
        return frames;
      }
      const line = this.buffer.slice(0, newline);
      this.buffer = this.buffer.slice(newline + (this.buffer.startsWith('\r\n', newline) ? 2 : 1));
      if (line === '') {
        if (this.data.length > 0) {
          frames.push({ lastEventId: this.lastEventId, data: this.data.join('\n') });
          this.data = [];
        }
      } else if (line.startsWith('data:')) {
        this.data.push(line.slice(line.startsWith('data: ') ? 6 : 5));
      } else if (line.startsWith('id:')) {
        const id = line.slice(line.startsWith('id: ') ? 4 : 3);
        if (!id.includes('\0')) {
          this.lastEventId = id;
        }
      }
    }
  }
}

export interface TranscriptTurn {
  readonly turn: number;
  readonly botName: string;
  readonly provider: string;
  readonly model: string;
  readonly text: string;
  readonly complete: boolean;
}

export interface Transcript {
  readonly turns: readonly TranscriptTurn[];
  readonly status: string | null;
  readonly error: string | null;
}

export const emptyTranscript: Transcript = { turns: [], status: null, error: null };

/**
 * Applies one event's data. A repeated turn_start starts that turn over (it is generated again after an Api restart);
 * `done` drops a turn a stop cut off, as the export has it. Data that is not understood changes nothing.
 */
export function applyEventData(transcript: Transcript, data: string): Transcript {
  let event: Record<string, unknown>;
  try {
    const parsed: unknown = JSON.parse(data);
    if (typeof parsed !== 'object' || parsed === null) {
      return transcript;
    }
    event = parsed as Record<string, unknown>;
  } catch {
    return transcript;
  }
  const text = (key: string): string => (typeof event[key] === 'string' ? event[key] as string : '');
  const turn = typeof event.turn === 'number' ? event.turn : -1;
  switch (event.type) {
    case 'turn_start': {
      const started: TranscriptTurn = { turn, botName: text('bot_name'), provider: text('provider'), model: text('model'), text: '', complete: false };
      return { ...transcript, turns: [...transcript.turns.filter(t => t.turn !== turn), started].sort((a, b) => a.turn - b.turn) };
    }
    case 'token':
      return { ...transcript, turns: transcript.turns.map(t => t.turn === turn ? { ...t, text: t.text + text('text') } : t) };
    case 'turn_end':
      return { ...transcript, turns: transcript.turns.map(t => t.turn === turn ? { ...t, complete: true } : t) };
    case 'error':
      return { ...transcript, error: text('message') };
    case 'done':
      return { ...transcript, status: text('status'), turns: transcript.turns.filter(t => t.complete) };
    default:
      return transcript;
  }
}

/** The transcript as plain text for an output channel. */
export function renderTranscript(topic: string, transcript: Transcript): string {
  const lines = [`# ${topic}`, ''];
  for (const turn of transcript.turns) {
    lines.push(`## ${turn.turn + 1}. ${turn.botName} (${turn.provider}, ${turn.model})${turn.complete ? '' : ' …'}`, turn.text, '');
  }
  if (transcript.error) {
    lines.push(`Error: ${transcript.error}`);
  }
  if (transcript.status) {
    lines.push(`Conversation ${transcript.status}.`);
  }
  return lines.join('\n');
}
