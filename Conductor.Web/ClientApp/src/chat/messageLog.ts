import type { ChatMessage } from "../api/contracts";

/**
 * Merges messages into a room's log: one entry per id (a resend or a message seen both live and in history is
 * kept once), in seq order (the room's commit order, the same for every client).
 */
export function mergeMessages(existing: readonly ChatMessage[], incoming: readonly ChatMessage[]): ChatMessage[] {
  if (incoming.length === 0) {
    return existing as ChatMessage[];
  }
  const byId = new Map<string, ChatMessage>();
  for (const message of existing) {
    byId.set(message.id, message);
  }
  let changed = false;
  for (const message of incoming) {
    if (!byId.has(message.id)) {
      byId.set(message.id, message);
      changed = true;
    }
  }
  if (!changed) {
    return existing as ChatMessage[];
  }
  return [...byId.values()].sort((a, b) => a.seq - b.seq);
}

/** The timestamp of the newest message, from which "since" recovers what was missed. */
export function newestTimestamp(messages: readonly ChatMessage[]): string | null {
  return messages.length === 0 ? null : (messages[messages.length - 1]?.timestamp ?? null);
}

export type HistoryPage = (since: string, limit: number) => Promise<ChatMessage[]>;

/**
 * Everything after `since`, page by page: the Api answers at most `limit` per page, oldest first, and timestamps
 * are strictly increasing per room, so the next page starts after the last one's newest message.
 */
export async function loadSince(page: HistoryPage, since: string, limit = 200, maxPages = 50): Promise<ChatMessage[]> {
  const all: ChatMessage[] = [];
  let cursor = since;
  for (let i = 0; i < maxPages; i++) {
    const messages = await page(cursor, limit);
    all.push(...messages);
    const last = messages[messages.length - 1];
    if (messages.length < limit || !last) {
      break;
    }
    cursor = last.timestamp;
  }
  return all;
}

/** Seq numbers missing between the oldest and newest message held (the Api's seqs have no gaps). */
export function missingSeqs(messages: readonly ChatMessage[]): number[] {
  const missing: number[] = [];
  for (let i = 1; i < messages.length; i++) {
    const previous = messages[i - 1]!.seq;
    const current = messages[i]!.seq;
    for (let seq = previous + 1; seq < current; seq++) {
      missing.push(seq);
    }
  }
  return missing;
}
