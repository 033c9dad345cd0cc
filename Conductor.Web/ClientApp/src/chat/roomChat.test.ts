import { describe, expect, it } from "vitest";
import type { ChatMessage, JoinRoomResult } from "../api/contracts";
import { missingSeqs } from "./messageLog";
import { RoomChat, type ChatTransport } from "./roomChat";

const room = "11111111-1111-1111-1111-111111111111";

/** An in-memory chat server with the hub's contract: seq order, strictly increasing timestamps, idempotent ids. */
class FakeHub implements ChatTransport {
  messages: ChatMessage[] = [];
  sends: string[] = [];
  stops: string[] = [];
  connected = false;
  private handlers = new Map<string, ((payload: unknown) => void)[]>();
  private reconnected: (() => void)[] = [];
  private reconnecting: (() => void)[] = [];

  post(content: string, id = `m${this.messages.length + 1}`): ChatMessage {
    const existing = this.messages.find((m) => m.id === id);
    if (existing) return existing;
    const seq = this.messages.length + 1;
    const message: ChatMessage = {
      id, room_id: room, seq, user_id: "u2", login: "bob", kind: "text", content,
      timestamp: new Date(Date.UTC(2026, 0, 1) + seq * 1000).toISOString(),
    };
    this.messages.push(message);
    if (this.connected) this.emit("Message", message);
    return message;
  }

  emit(event: string, payload: unknown) {
    this.handlers.get(event)?.forEach((h) => h(payload));
  }

  drop() {
    this.connected = false;
    this.reconnecting.forEach((h) => h());
  }

  reconnect() {
    this.connected = true;
    this.reconnected.forEach((h) => h());
  }

  async start() { this.connected = true; }
  async stop() { this.connected = false; }
  on(event: string, handler: (payload: unknown) => void) {
    this.handlers.set(event, [...(this.handlers.get(event) ?? []), handler]);
  }
  onReconnecting(handler: () => void) { this.reconnecting.push(handler); }
  onReconnected(handler: () => void) { this.reconnected.push(handler); }
  onClose() {}

  async invoke<T>(method: string, ...args: unknown[]): Promise<T> {
    if (!this.connected) throw new Error("not connected");
    switch (method) {
      case "JoinRoom": {
        const result: JoinRoomResult = { room_id: room, messages: this.messages.slice(-50), typing: [], online: [] };
        return result as T;
      }
      case "LoadHistory": {
        const query = args[1] as { since?: string; before?: string; limit: number };
        if (query.since) {
          return this.messages.filter((m) => m.timestamp > query.since!).slice(0, query.limit) as T;
        }
        const before = this.messages.findIndex((m) => m.id === query.before);
        return this.messages.slice(Math.max(0, before - query.limit), before) as T;
      }
      case "SendMessage": {
        const message = args[1] as { id: string; content: string };
        this.sends.push(message.id);
        return this.post(message.content, message.id) as T;
      }
      case "StopAi":
        this.stops.push(args[1] as string);
        return undefined as T;
      default:
        return undefined as T;
    }
  }
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 0));

describe("RoomChat", () => {
  it("recovers exactly the messages missed while disconnected, even more than one page", async () => {
    const hub = new FakeHub();
    for (let i = 0; i < 10; i++) hub.post(`before ${i}`);
    const chat = new RoomChat(hub, room, { pageSize: 50 });
    await chat.start();
    expect(chat.current.messages).toHaveLength(10);

    hub.drop();
    for (let i = 0; i < 130; i++) hub.post(`missed ${i}`);
    hub.reconnect();
    await settle();
    await settle();

    const seqs = chat.current.messages.map((m) => m.seq);
    expect(seqs).toEqual(Array.from({ length: 140 }, (_, i) => i + 1));
    expect(missingSeqs(chat.current.messages)).toEqual([]);
    expect(chat.current.status).toBe("connected");
  });

  it("keeps a message once when it arrives both live and in the recovered history", async () => {
    const hub = new FakeHub();
    const chat = new RoomChat(hub, room);
    await chat.start();
    const live = hub.post("hello");
    hub.emit("Message", live); // delivered twice live
    hub.drop();
    hub.reconnect();
    await settle();

    expect(chat.current.messages.map((m) => m.id)).toEqual([live.id]);
  });

  it("sends a message written offline once connected again, with the id chosen when it was written", async () => {
    const hub = new FakeHub();
    const chat = new RoomChat(hub, room, { newId: () => "offline-1" });
    await chat.start();
    hub.drop();

    await chat.send("written offline");
    expect(chat.current.pending.map((p) => p.id)).toEqual(["offline-1"]);
    expect(hub.sends).toEqual([]);

    hub.reconnect();
    await settle();
    await settle();
    expect(hub.sends).toEqual(["offline-1"]);
    expect(chat.current.pending).toEqual([]);
    expect(chat.current.messages.map((m) => m.id)).toEqual(["offline-1"]);
  });

  it("scrolls back page by page until the start of the room", async () => {
    const hub = new FakeHub();
    for (let i = 0; i < 120; i++) hub.post(`m ${i}`);
    const chat = new RoomChat(hub, room);
    await chat.start();
    expect(chat.current.messages[0]?.seq).toBe(71);
    expect(chat.current.reachedStart).toBe(false);

    expect(await chat.loadEarlier(50)).toBe(true);
    expect(chat.current.messages[0]?.seq).toBe(21);
    expect(await chat.loadEarlier(50)).toBe(false);
    expect(chat.current.messages[0]?.seq).toBe(1);
    expect(chat.current.reachedStart).toBe(true);
    expect(missingSeqs(chat.current.messages)).toEqual([]);
  });

  it("drops the typing indicator of someone whose message arrives", async () => {
    const hub = new FakeHub();
    const chat = new RoomChat(hub, room);
    await chat.start();
    hub.emit("Typing", { user_id: "u2", login: "bob", expires_at: new Date(Date.now() + 3000).toISOString() });
    expect(chat.typingAt(Date.now()).map((t) => t.login)).toEqual(["bob"]);
    hub.post("done typing");
    expect(chat.typingAt(Date.now())).toEqual([]);
  });

  it("grows an AI answer token by token, shows its tool call, stops it, and replaces it with the stored message", async () => {
    const hub = new FakeHub();
    const chat = new RoomChat(hub, room);
    await chat.start();
    const question = hub.post("@ai where is the bug?");
    const frame = { room_id: room, message_id: "a1" };
    hub.emit("AiStart", { ...frame, type: "ai_start", reply_to: question.id, login: "ai", provider: "openai", asked_by: "u2", started_at: "" });
    hub.emit("AiTool", { ...frame, type: "ai_tool", name: "search", detail: "bug" });
    expect(chat.current.answers[0]?.tool).toBe("search: bug");
    hub.emit("AiToken", { ...frame, type: "ai_token", index: 0, text: "It is " });
    hub.emit("AiToken", { ...frame, type: "ai_token", index: 1, text: "in a.ts" });
    hub.emit("AiToken", { ...frame, type: "ai_token", index: 1, text: "in a.ts" }); // a duplicate is ignored
    expect(chat.current.answers).toMatchObject([{ id: "a1", text: "It is in a.ts", status: "streaming", tool: null }]);

    await chat.stopAnswer("a1");
    expect(hub.stops).toEqual(["a1"]);
    hub.emit("AiDone", { ...frame, type: "ai_done", status: "stopped", stopped_by: "u1" });
    expect(chat.current.answers[0]?.status).toBe("stopped");

    hub.emit("Message", { ...question, id: "a1", seq: 2, kind: "ai", login: "ai", user_id: null, content: "It is in a.ts\n\n_(stopped)_" });
    expect(chat.current.answers).toEqual([]);
    expect(chat.current.messages.map((m) => m.id)).toEqual([question.id, "a1"]);
  });

  it("ignores AI frames of another room", async () => {
    const hub = new FakeHub();
    const chat = new RoomChat(hub, room);
    await chat.start();
    hub.emit("AiStart", { type: "ai_start", room_id: "other", message_id: "x", reply_to: "q", login: "ai", provider: "p", asked_by: "u", started_at: "" });
    expect(chat.current.answers).toEqual([]);
  });
});
