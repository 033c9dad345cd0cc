import type { ChatMessage } from '../api/types';

/**
 * The room's messages as the client has seen them: merged by id (a message can arrive over the socket and again in
 * the gap-recovery history), kept in the room's order (seq). `lastTimestamp` is what recovery asks history for.
 */
export class ChatLog {
  private readonly byId = new Map<string, ChatMessage>();
  private ordered: ChatMessage[] = [];

  constructor(private readonly limit = 500) {}

  get messages(): readonly ChatMessage[] {
    return this.ordered;
  }

  get lastTimestamp(): string | undefined {
    return this.ordered.at(-1)?.timestamp;
  }

  /** Adds messages; returns the ones that were new (in order), for the UI to append. */
  merge(messages: readonly ChatMessage[]): ChatMessage[] {
    const added: ChatMessage[] = [];
    for (const message of messages) {
      if (!this.byId.has(message.id)) {
        this.byId.set(message.id, message);
        added.push(message);
      }
    }
    if (added.length === 0) {
      return added;
    }
    this.ordered = [...this.byId.values()].sort((a, b) => a.seq - b.seq);
    if (this.ordered.length > this.limit) {
      for (const dropped of this.ordered.splice(0, this.ordered.length - this.limit)) {
        this.byId.delete(dropped.id);
      }
    }
    return added.sort((a, b) => a.seq - b.seq);
  }

  clear(): void {
    this.byId.clear();
    this.ordered = [];
  }
}
