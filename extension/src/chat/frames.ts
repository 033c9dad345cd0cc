import type { ChatMessage, PresentUser } from '../api/types';

/** Frames the server sends on /ws/{room_id} (docs/chat.md), discriminated by `type`. */
export type ServerFrame =
  | (ChatMessage & { readonly type: 'chat' })
  | { readonly type: 'presence'; readonly room_id: string; readonly users: readonly PresentUser[] }
  | { readonly type: 'typing'; readonly room_id: string; readonly user_id: string; readonly login: string; readonly expires_at: string }
  | { readonly type: 'history'; readonly room_id: string; readonly messages: readonly ChatMessage[] }
  | { readonly type: 'user_joined' | 'user_left'; readonly room_id: string; readonly user_id: string; readonly login: string }
  | { readonly type: 'read_receipt'; readonly room_id: string; readonly message_id: string; readonly user_id: string; readonly read_at: string }
  | { readonly type: 'error'; readonly code: string; readonly message: string; readonly id?: string }
  | { readonly type: 'file_changed'; readonly room_id: string; readonly path: string; readonly change: 'created' | 'changed' | 'deleted' | 'renamed'; readonly user_id: string; readonly from?: string }
  | { readonly type: 'workspace'; readonly room_id: string; readonly status: string; readonly error?: string | null; readonly head_commit?: string | null }
  | { readonly type: 'job'; readonly room_id?: string; readonly job_id?: string; readonly progress?: number; readonly message?: string; readonly status?: string }
  | { readonly type: 'member_joined' | 'member_left' | 'member_removed' | 'host_transferred' | 'room_ended'; readonly room_id: string; readonly user_id?: string; readonly login?: string }
  // A streamed AI answer (someone wrote @ai): start, tokens and tool calls, then done; the stored answer follows as a chat message with the same id.
  | { readonly type: 'ai_start'; readonly room_id: string; readonly message_id: string; readonly reply_to: string; readonly login: string; readonly provider: string; readonly asked_by: string }
  | { readonly type: 'ai_token'; readonly room_id: string; readonly message_id: string; readonly index: number; readonly text: string }
  | { readonly type: 'ai_tool'; readonly room_id: string; readonly message_id: string; readonly name: string; readonly detail: string }
  | { readonly type: 'ai_done'; readonly room_id: string; readonly message_id: string; readonly status: 'completed' | 'stopped' | 'failed'; readonly error?: string; readonly stopped_by?: string };

export type ServerFrameType = ServerFrame['type'];

const knownTypes: ReadonlySet<string> = new Set<ServerFrameType>([
  'chat', 'presence', 'typing', 'history', 'user_joined', 'user_left', 'read_receipt', 'error', 'file_changed',
  'workspace', 'job', 'member_joined', 'member_left', 'member_removed', 'host_transferred', 'room_ended',
  'ai_start', 'ai_token', 'ai_tool', 'ai_done',
]);

/** Parses one text frame; unknown or malformed frames are undefined (a newer server may send more kinds). */
export function parseServerFrame(text: string): ServerFrame | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) {
    return undefined;
  }
  const type = (value as { type?: unknown }).type;
  if (typeof type !== 'string' || !knownTypes.has(type)) {
    return undefined;
  }
  return value as ServerFrame;
}

/** Frames the client sends. */
export type ClientFrame =
  | { readonly type: 'chat'; readonly id: string; readonly content: ChatMessage['content']; readonly kind: 'text' | 'code_snippet' | 'file'; readonly reply_to?: string }
  | { readonly type: 'typing' }
  | { readonly type: 'read_receipt'; readonly message_id: string }
  | { readonly type: 'history_request'; readonly since?: string; readonly limit?: number }
  | { readonly type: 'ai_stop'; readonly message_id: string };
