import type {
  AiAnswerStatus,
  AiDoneFrame,
  AiStartFrame,
  AiTokenFrame,
  AiToolFrame,
  ChatMessage,
  JoinRoomResult,
  OnlineUser,
  RoomEvent,
  TypingUser,
} from "../api/contracts";
import { loadSince, mergeMessages, newestTimestamp } from "./messageLog";

/** The part of a SignalR HubConnection the room chat uses (a fake in unit tests). */
export interface ChatTransport {
  start(): Promise<void>;
  stop(): Promise<void>;
  invoke<T>(method: string, ...args: unknown[]): Promise<T>;
  on(event: string, handler: (payload: unknown) => void): void;
  onReconnecting(handler: () => void): void;
  onReconnected(handler: () => void): void;
  onClose(handler: (error?: Error) => void): void;
}

export type ConnectionStatus = "connecting" | "connected" | "reconnecting" | "disconnected";

export interface RoomChatState {
  status: ConnectionStatus;
  messages: ChatMessage[];
  typing: TypingUser[];
  online: OnlineUser[];
  /** No older messages remain on the server. */
  reachedStart: boolean;
  /** Sends made while offline; they are resent with the same id (idempotent) once connected. */
  pending: PendingMessage[];
  /** AI answers being streamed (or just ended), until their stored message arrives with the same id. */
  answers: AiAnswer[];
  error: string | null;
}

/** An AI answer as it grows: the text so far, the tool it last called, and how it ended. */
export interface AiAnswer {
  id: string;
  replyTo: string;
  login: string;
  provider: string;
  text: string;
  /** The next token index expected; a gap means frames were lost (the stored message will replace the text). */
  nextIndex: number;
  tool: string | null;
  status: AiAnswerStatus;
  error: string | null;
}

export interface PendingMessage {
  id: string;
  kind: string;
  content: unknown;
}

export interface RoomChatOptions {
  newId?: () => string;
  now?: () => number;
  pageSize?: number;
  onRoomEvent?: (event: RoomEvent) => void;
}

/**
 * One room's chat over the hub: joins, receives live messages, and after a reconnect rejoins and loads exactly
 * what it missed (history since the newest message held, merged by id: no gap, no duplicate).
 */
export class RoomChat {
  private state: RoomChatState = {
    status: "connecting",
    messages: [],
    typing: [],
    online: [],
    reachedStart: false,
    pending: [],
    answers: [],
    error: null,
  };
  private readonly listeners = new Set<(state: RoomChatState) => void>();
  private readonly newId: () => string;
  private readonly now: () => number;
  private readonly pageSize: number;
  private stopped = false;
  private lastTypingSent = 0;

  constructor(
    private readonly transport: ChatTransport,
    readonly roomId: string,
    private readonly options: RoomChatOptions = {},
  ) {
    this.newId = options.newId ?? (() => crypto.randomUUID());
    this.now = options.now ?? (() => Date.now());
    this.pageSize = options.pageSize ?? 200;
    transport.on("Message", (payload) => this.receive([payload as ChatMessage]));
    transport.on("Typing", (payload) => this.typingArrived(payload as TypingUser));
    transport.on("UserJoined", (payload) => this.userJoined(payload as OnlineUser));
    transport.on("UserLeft", (payload) => this.userLeft(payload as OnlineUser));
    transport.on("RoomEvent", (payload) => this.options.onRoomEvent?.(payload as RoomEvent));
    transport.on("AiStart", (payload) => this.aiStarted(payload as AiStartFrame));
    transport.on("AiToken", (payload) => this.aiToken(payload as AiTokenFrame));
    transport.on("AiTool", (payload) => this.aiTool(payload as AiToolFrame));
    transport.on("AiDone", (payload) => this.aiDone(payload as AiDoneFrame));
    transport.onReconnecting(() => this.update({ status: "reconnecting" }));
    transport.onReconnected(() => {
      void this.join();
    });
    transport.onClose(() => {
      if (!this.stopped) {
        this.update({ status: "disconnected" });
      }
    });
  }

  get current(): RoomChatState {
    return this.state;
  }

  subscribe(listener: (state: RoomChatState) => void): () => void {
    this.listeners.add(listener);
    listener(this.state);
    return () => this.listeners.delete(listener);
  }

  async start(): Promise<void> {
    this.update({ status: "connecting", error: null });
    try {
      await this.transport.start();
    } catch (error) {
      this.update({ status: "disconnected", error: messageOf(error) });
      throw error;
    }
    await this.join();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.transport.stop();
  }

  /** Joins (or rejoins) the room, then fills whatever was missed since the newest message held. */
  async join(): Promise<void> {
    try {
      const since = newestTimestamp(this.state.messages);
      const joined = await this.transport.invoke<JoinRoomResult>("JoinRoom", this.roomId);
      let messages = mergeMessages(this.state.messages, joined.messages);
      if (since !== null) {
        const missed = await loadSince((after, limit) => this.history({ since: after, limit }), since, this.pageSize);
        messages = mergeMessages(messages, missed);
      }
      const reachedStart = this.state.messages.length === 0 ? joined.messages.length < 50 : this.state.reachedStart;
      this.update({ status: "connected", messages, typing: joined.typing, online: joined.online, reachedStart, error: null });
      await this.flushPending();
    } catch (error) {
      this.update({ error: messageOf(error) });
    }
  }

  /** Sends a message; offline, it waits in `pending` and goes out with the same id on reconnect. */
  async send(content: unknown, kind = "text"): Promise<void> {
    const message: PendingMessage = { id: this.newId(), kind, content };
    this.update({ pending: [...this.state.pending, message] });
    if (this.state.status === "connected") {
      await this.deliver(message);
    }
  }

  /** Loads the page before the oldest message held; answers false when the start of the room is reached. */
  async loadEarlier(limit = 50): Promise<boolean> {
    const oldest = this.state.messages[0];
    if (!oldest || this.state.reachedStart) {
      return false;
    }
    const page = await this.history({ before: oldest.id, limit });
    const reachedStart = page.length < limit;
    this.update({ messages: mergeMessages(this.state.messages, page), reachedStart });
    return !reachedStart;
  }

  /** Tells the room the user is typing, at most once a second (the server keeps it for 3 s). */
  typing(): void {
    const now = this.now();
    if (this.state.status !== "connected" || now - this.lastTypingSent < 1000) {
      return;
    }
    this.lastTypingSent = now;
    this.transport.invoke("Typing", this.roomId).catch(() => undefined);
  }

  /** Stops a streaming AI answer for everyone in the room (any member may). */
  async stopAnswer(messageId: string): Promise<void> {
    try {
      await this.transport.invoke("StopAi", this.roomId, messageId);
    } catch (error) {
      this.update({ error: hubErrorText(messageOf(error)) });
    }
  }

  /** Typing indicators still in force at `now`. */
  typingAt(now: number): TypingUser[] {
    return this.state.typing.filter((t) => Date.parse(t.expires_at) > now);
  }

  private history(query: { since?: string; before?: string; limit: number }): Promise<ChatMessage[]> {
    return this.transport.invoke<ChatMessage[]>("LoadHistory", this.roomId, query);
  }

  private async flushPending(): Promise<void> {
    for (const message of this.state.pending) {
      if (this.state.status !== "connected") {
        return;
      }
      await this.deliver(message);
    }
  }

  private async deliver(message: PendingMessage): Promise<void> {
    try {
      const stored = await this.transport.invoke<ChatMessage>("SendMessage", this.roomId, {
        id: message.id,
        content: message.content,
        kind: message.kind,
      });
      this.update({ pending: this.state.pending.filter((p) => p.id !== message.id) });
      this.receive([stored]);
    } catch (error) {
      const text = messageOf(error);
      // A refusal (too large, rate limited, room ended) will not succeed on a resend: drop it and say why.
      if (/^[a-z_]+: /.test(hubErrorText(text))) {
        this.update({ pending: this.state.pending.filter((p) => p.id !== message.id), error: hubErrorText(text) });
      }
    }
  }

  private receive(messages: ChatMessage[]): void {
    const mine = messages.filter((m) => m.room_id === this.roomId);
    const merged = mergeMessages(this.state.messages, mine);
    if (merged !== this.state.messages) {
      // A message from someone ends their typing indicator.
      const senders = new Set(mine.map((m) => m.user_id));
      // A stored answer replaces its streamed form.
      const stored = new Set(mine.map((m) => m.id));
      this.update({
        messages: merged,
        typing: this.state.typing.filter((t) => !senders.has(t.user_id)),
        answers: this.state.answers.filter((a) => !stored.has(a.id)),
      });
    }
  }

  private aiStarted(frame: AiStartFrame): void {
    if (frame.room_id !== this.roomId || this.state.answers.some((a) => a.id === frame.message_id)) {
      return;
    }
    const answer: AiAnswer = {
      id: frame.message_id,
      replyTo: frame.reply_to,
      login: frame.login,
      provider: frame.provider,
      text: "",
      nextIndex: 0,
      tool: null,
      status: "streaming",
      error: null,
    };
    this.update({ answers: [...this.state.answers, answer] });
  }

  private aiToken(frame: AiTokenFrame): void {
    this.changeAnswer(frame.room_id, frame.message_id, (a) =>
      frame.index < a.nextIndex ? a : { ...a, text: a.text + frame.text, nextIndex: frame.index + 1, tool: null },
    );
  }

  private aiTool(frame: AiToolFrame): void {
    this.changeAnswer(frame.room_id, frame.message_id, (a) => ({ ...a, tool: frame.detail ? `${frame.name}: ${frame.detail}` : frame.name }));
  }

  private aiDone(frame: AiDoneFrame): void {
    this.changeAnswer(frame.room_id, frame.message_id, (a) => ({ ...a, status: frame.status, error: frame.error ?? null, tool: null }));
  }

  private changeAnswer(roomId: string, id: string, change: (answer: AiAnswer) => AiAnswer): void {
    if (roomId !== this.roomId || !this.state.answers.some((a) => a.id === id)) {
      return;
    }
    this.update({ answers: this.state.answers.map((a) => (a.id === id ? change(a) : a)) });
  }

  private typingArrived(typing: TypingUser): void {
    this.update({ typing: [...this.state.typing.filter((t) => t.user_id !== typing.user_id), typing] });
  }

  private userJoined(user: OnlineUser): void {
    if (!this.state.online.some((u) => u.user_id === user.user_id)) {
      this.update({ online: [...this.state.online, user] });
    }
  }

  private userLeft(user: OnlineUser): void {
    this.update({
      online: this.state.online.filter((u) => u.user_id !== user.user_id),
      typing: this.state.typing.filter((t) => t.user_id !== user.user_id),
    });
  }

  private update(change: Partial<RoomChatState>): void {
    this.state = { ...this.state, ...change };
    for (const listener of this.listeners) {
      listener(this.state);
    }
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** SignalR prefixes a HubException's text with "An unexpected error occurred invoking 'X' on the server. HubException: ". */
export function hubErrorText(text: string): string {
  const marker = "HubException: ";
  const at = text.indexOf(marker);
  return at >= 0 ? text.slice(at + marker.length) : text;
}
