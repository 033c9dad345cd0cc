import type { ChatMessage, PresentUser, ProviderStatus, SearchHit } from '../api/types';
import type { SessionState } from '../session/stateMachine';

/** Messages the extension host posts to the WebView. */
export type HostToWebview =
  | { readonly type: 'state'; readonly state: SessionState; readonly login: string | null; readonly roomName: string | null; readonly roomId: string | null }
  | { readonly type: 'messages'; readonly messages: readonly ChatMessage[]; readonly reset: boolean }
  | { readonly type: 'presence'; readonly users: readonly PresentUser[] }
  | { readonly type: 'typing'; readonly login: string }
  | { readonly type: 'connection'; readonly status: 'connected' | 'reconnecting' | 'closed'; readonly detail: string | null }
  | { readonly type: 'searchResults'; readonly query: string; readonly hits: readonly SearchHit[] }
  | { readonly type: 'uploadResult'; readonly ok: boolean; readonly message: string }
  | { readonly type: 'aiStatus'; readonly providers: readonly ProviderStatus[]; readonly active: string }
  | { readonly type: 'aiToken'; readonly token: string }
  | { readonly type: 'aiDone'; readonly error: string | null }
  | { readonly type: 'chatAiStart'; readonly id: string; readonly login: string; readonly provider: string }
  | { readonly type: 'chatAiToken'; readonly id: string; readonly index: number; readonly text: string }
  | { readonly type: 'chatAiTool'; readonly id: string; readonly detail: string }
  | { readonly type: 'chatAiDone'; readonly id: string; readonly status: string; readonly error: string | null }
  | { readonly type: 'error'; readonly message: string };

/** Messages the WebView posts to the extension host. Every one is validated by {@link parseWebviewMessage}. */
export type WebviewToHost =
  | { readonly type: 'ready' }
  | { readonly type: 'send'; readonly text: string }
  | { readonly type: 'typing' }
  | { readonly type: 'search'; readonly query: string }
  | { readonly type: 'openHit'; readonly path: string; readonly line: number; readonly column: number }
  | { readonly type: 'upload'; readonly name: string; readonly contentType: string; readonly base64: string; readonly size: number }
  | { readonly type: 'aiRefresh' }
  | { readonly type: 'aiSelect'; readonly name: string }
  | { readonly type: 'aiAsk'; readonly prompt: string }
  | { readonly type: 'chatAiStop'; readonly id: string };

/** The WebView is untrusted input: anything not exactly one of the shapes above is dropped. */
export function parseWebviewMessage(value: unknown): WebviewToHost | undefined {
  if (typeof value !== 'object' || value === null) {
    return undefined;
  }
  const message = value as Record<string, unknown>;
  switch (message.type) {
    case 'ready':
    case 'typing':
    case 'aiRefresh':
      return { type: message.type };
    case 'aiSelect':
      return typeof message.name === 'string' && /^[a-z0-9_-]{1,40}$/.test(message.name) ? { type: 'aiSelect', name: message.name } : undefined;
    case 'aiAsk':
      return typeof message.prompt === 'string' && message.prompt.trim().length > 0 ? { type: 'aiAsk', prompt: message.prompt } : undefined;
    case 'chatAiStop':
      return typeof message.id === 'string' && /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(message.id)
        ? { type: 'chatAiStop', id: message.id }
        : undefined;
    case 'send':
      return typeof message.text === 'string' && message.text.trim().length > 0 ? { type: 'send', text: message.text } : undefined;
    case 'search':
      return typeof message.query === 'string' && message.query.length > 0 ? { type: 'search', query: message.query } : undefined;
    case 'openHit':
      return typeof message.path === 'string' && isPositiveInt(message.line) && isPositiveInt(message.column)
        ? { type: 'openHit', path: message.path, line: message.line, column: message.column }
        : undefined;
    case 'upload':
      return typeof message.name === 'string' && message.name.length > 0 && typeof message.contentType === 'string'
        && typeof message.base64 === 'string' && typeof message.size === 'number' && message.size >= 0
        ? { type: 'upload', name: message.name, contentType: message.contentType, base64: message.base64, size: message.size }
        : undefined;
    default:
      return undefined;
  }
}

function isPositiveInt(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 1;
}

/** The Api's upload limit (Files:MaxUploadBytes default), checked before sending so the user gets a friendly answer. */
export const MaxUploadBytes = 20 * 1024 * 1024;

export function uploadTooLargeMessage(name: string, size: number): string {
  return `${name} is ${(size / (1024 * 1024)).toFixed(1)} MB: files can be at most 20 MB.`;
}
