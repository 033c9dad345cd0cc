import { randomUUID } from 'node:crypto';
import WebSocket from 'ws';
import type { ConductorApi } from '../api/client';
import type { ChatMessage, NewMessage, PresentUser } from '../api/types';
import { backoffDelay } from './backoff';
import { ChatLog } from './chatLog';
import { parseServerFrame, type ClientFrame, type ServerFrame } from './frames';

export interface ChatConnectionEvents {
  /** New messages (live, initial history or recovered after a reconnect), in order, never twice. */
  messages(added: readonly ChatMessage[]): void;
  presence(users: readonly PresentUser[]): void;
  typing(login: string, userId: string, expiresAt: string): void;
  /** The socket is up (first time or after a reconnect, once the gap is filled). */
  connected(recovered: boolean): void;
  /** The socket was lost; a reconnect is scheduled in `retryInMs`. */
  disconnected(retryInMs: number): void;
  /** The server closed us for good (removed, not a member): no reconnect. */
  closed(reason: string): void;
  /** Every other frame (file_changed, workspace, job, member events, errors). */
  frame(frame: ServerFrame): void;
}

type Listeners = { [K in keyof ChatConnectionEvents]: Set<ChatConnectionEvents[K]> };

/**
 * One room's raw WebSocket (/ws/{room_id}) with reconnect and gap recovery: after a drop it reconnects with
 * exponential backoff, then asks `GET /chat/{room}/history?since=<last timestamp seen>` and merges by id, so nothing
 * sent meanwhile is missed or shown twice. Sends carry a client-chosen id, so a resend after a reconnect is stored
 * once (the Api answers a resend with the stored message).
 */
export class ChatConnection {
  readonly log = new ChatLog();
  private socket: WebSocket | undefined;
  private attempt = 0;
  private everConnected = false;
  private disposed = false;
  private reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  private online = new Map<string, PresentUser>();
  private readonly listeners: Listeners = {
    messages: new Set(), presence: new Set(), typing: new Set(), connected: new Set(), disconnected: new Set(),
    closed: new Set(), frame: new Set(),
  };

  constructor(
    private readonly api: ConductorApi,
    private readonly accessToken: () => Promise<string>,
    readonly roomId: string,
    private readonly options: { readonly baseDelayMs: number; readonly maxDelayMs: number } = { baseDelayMs: 500, maxDelayMs: 15_000 },
  ) {}

  get isOpen(): boolean {
    return this.socket?.readyState === WebSocket.OPEN;
  }

  get presentUsers(): readonly PresentUser[] {
    return [...this.online.values()];
  }

  on<K extends keyof ChatConnectionEvents>(event: K, listener: ChatConnectionEvents[K]): { dispose(): void } {
    const set = this.listeners[event] as Set<ChatConnectionEvents[K]>;
    set.add(listener);
    return { dispose: () => set.delete(listener) };
  }

  /** Loads the latest history and opens the socket. */
  async start(): Promise<void> {
    this.emit('messages', this.log.merge(await this.api.chatHistory(this.roomId, { limit: 50 })));
    await this.open();
  }

  /** Sends over the socket when it is up, else over HTTP (same id, so never twice). */
  async send(message: NewMessage): Promise<string> {
    const id = message.id ?? randomUUID();
    const frame: ClientFrame = { type: 'chat', id, content: message.content, kind: message.kind ?? 'text', ...(message.reply_to ? { reply_to: message.reply_to } : {}) };
    if (this.isOpen) {
      this.socket!.send(JSON.stringify(frame));
    } else {
      this.emit('messages', this.log.merge([await this.api.postMessage(this.roomId, { ...message, id })]));
    }
    return id;
  }

  typing(): void {
    if (this.isOpen) {
      this.socket!.send(JSON.stringify({ type: 'typing' } satisfies ClientFrame));
    }
  }

  /** Stops a streaming AI answer for the whole room; the server answers every member with ai_done (stopped). */
  stopAnswer(messageId: string): void {
    if (!this.isOpen) {
      throw new Error('Not connected to the room; the answer cannot be stopped right now.');
    }
    this.socket!.send(JSON.stringify({ type: 'ai_stop', message_id: messageId } satisfies ClientFrame));
  }

  /** Drops the socket as a network failure would (tests and "reconnect now"). */
  dropForTest(): void {
    this.socket?.terminate();
  }

  dispose(): void {
    this.disposed = true;
    if (this.reconnectTimer) {
      clearTimeout(this.reconnectTimer);
    }
    this.socket?.removeAllListeners();
    this.socket?.on('error', () => undefined);
    this.socket?.close(1000);
    this.socket = undefined;
  }

  private async open(): Promise<void> {
    if (this.disposed) {
      return;
    }
    let token: string;
    try {
      token = await this.accessToken();
    } catch (error) {
      // Disposed while the token was awaited (left the room, signed out): not a failure to report.
      if (!this.disposed) {
        this.emit('closed', error instanceof Error ? error.message : String(error));
      }
      return;
    }
    if (this.disposed) {
      return; // disposed while the token was awaited: no socket for a connection nobody listens to
    }
    const target = this.api.roomSocket(this.roomId, token);
    const socket = new WebSocket(target.url, { headers: target.headers });
    this.socket = socket;
    socket.on('open', () => {
      void this.onOpen();
    });
    socket.on('message', (data, isBinary) => {
      if (!isBinary) {
        this.onFrame(data.toString());
      }
    });
    socket.on('unexpected-response', (_request, response) => {
      // 401 on the upgrade: the token is bad; let the close handler retry with a refreshed one.
      response.resume();
      socket.terminate();
    });
    socket.on('error', () => {
      // 'close' follows every error; reconnecting happens there.
    });
    socket.on('close', (code, reason) => this.onClose(socket, code, reason.toString()));
  }

  private async onOpen(): Promise<void> {
    this.attempt = 0;
    const recovered = this.everConnected;
    this.everConnected = true;
    if (recovered) {
      try {
        const since = this.log.lastTimestamp;
        const missed = await this.api.chatHistory(this.roomId, since ? { since, limit: 200 } : { limit: 50 });
        this.emit('messages', this.log.merge(missed));
      } catch {
        // The socket's own frames keep flowing; the next reconnect tries the gap again.
      }
    }
    this.emit('connected', recovered);
  }

  private onFrame(text: string): void {
    const frame = parseServerFrame(text);
    if (!frame) {
      return;
    }
    switch (frame.type) {
      case 'chat':
        this.emit('messages', this.log.merge([frame]));
        return;
      case 'history':
        this.emit('messages', this.log.merge(frame.messages));
        return;
      case 'presence':
        this.online = new Map(frame.users.map(user => [user.user_id, user]));
        this.emit('presence', this.presentUsers);
        return;
      case 'user_joined':
        this.online.set(frame.user_id, { user_id: frame.user_id, login: frame.login });
        this.emit('presence', this.presentUsers);
        return;
      case 'user_left':
        this.online.delete(frame.user_id);
        this.emit('presence', this.presentUsers);
        return;
      case 'typing':
        this.emit('typing', frame.login, frame.user_id, frame.expires_at);
        return;
      default:
        this.emit('frame', frame);
    }
  }

  private onClose(socket: WebSocket, code: number, reason: string): void {
    if (this.socket !== socket || this.disposed) {
      return;
    }
    this.socket = undefined;
    if (code === 1008) {
      this.disposed = true;
      this.emit('closed', reason || 'The room closed this connection (not a member, or removed).');
      return;
    }
    this.attempt++;
    const delay = backoffDelay(this.attempt, this.options.baseDelayMs, this.options.maxDelayMs);
    this.emit('disconnected', delay);
    this.reconnectTimer = setTimeout(() => void this.open(), delay);
  }

  private emit<K extends keyof ChatConnectionEvents>(event: K, ...args: Parameters<ChatConnectionEvents[K]>): void {
    if (event === 'messages' && (args[0] as readonly ChatMessage[]).length === 0) {
      return;
    }
    for (const listener of this.listeners[event] as Set<(...a: Parameters<ChatConnectionEvents[K]>) => void>) {
      listener(...args);
    }
  }
}
