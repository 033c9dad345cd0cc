/**
 * Keystrokes typed into the shared terminal before the Api's `ready` frame said whether we may write. VS Code hands a
 * Pseudoterminal input as soon as it is open, while the socket is still connecting: without this, whatever a person
 * (or the end-to-end test) typed first was dropped ("echo" arrived as "cho"). They are held, up to a limit, and sent
 * once `ready` allows writing, or dropped if it does not.
 */
export class PendingInput {
  private chunks: string[] = [];
  private length = 0;
  private decision: boolean | undefined;

  constructor(private readonly limit = 64 * 1024) {}

  /** What to send for this keystroke now: itself once writing is allowed, else nothing (held until decided). */
  offer(data: string): string | undefined {
    if (this.decision !== undefined) {
      return this.decision ? data : undefined;
    }
    if (this.length + data.length <= this.limit) {
      this.chunks.push(data);
      this.length += data.length;
    }
    return undefined;
  }

  /** The Api's answer: the held keystrokes to send, in order, when writing is allowed (else they are dropped). */
  decide(canWrite: boolean): string | undefined {
    this.decision = canWrite;
    const held = this.chunks.join('');
    this.chunks = [];
    this.length = 0;
    return canWrite && held.length > 0 ? held : undefined;
  }
}
