import { useCallback, useEffect, useRef, useState, type FormEvent } from "react";
import type { Conversation } from "../api/contracts";
import { readEvents } from "../ai/sse";
import { ErrorText } from "../ui/ErrorText";
import { useServices } from "../ui/services";
import { applyEvent, emptyTranscript, parseConversationEvent, type Transcript } from "./transcript";

interface BotForm {
  name: string;
  provider: string;
  instructions: string;
}

/** Agent conversations of the room: start one, watch it stream (resuming after a drop), stop it, export it. */
export function ConversationsPanel({ roomId, readOnly }: { roomId: string; readOnly: boolean }) {
  const { api } = useServices();
  const [conversations, setConversations] = useState<Conversation[]>([]);
  const [providers, setProviders] = useState<string[]>([]);
  const [topic, setTopic] = useState("");
  const [maxTurns, setMaxTurns] = useState(6);
  const [bots, setBots] = useState<BotForm[]>([
    { name: "Proponent", provider: "", instructions: "Argue for the proposal." },
    { name: "Critic", provider: "", instructions: "Argue against the proposal." },
  ]);
  const [selected, setSelected] = useState<string | null>(null);
  const [transcript, setTranscript] = useState<Transcript>(emptyTranscript);
  const [watching, setWatching] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const watch = useRef<AbortController | null>(null);

  const load = useCallback(async () => {
    try {
      setConversations((await api.listConversations(roomId)).conversations);
    } catch (failure) {
      setError(failure);
    }
  }, [api, roomId]);

  useEffect(() => {
    void load();
    void api.aiStatus().then((status) => {
      setProviders(status.providers.map((p) => p.name));
      setBots((current) => current.map((bot) => ({ ...bot, provider: bot.provider || status.active_provider })));
    }, setError);
    return () => watch.current?.abort();
  }, [api, load]);

  /** Streams the conversation; a dropped connection resumes with the last event id until `done`. */
  const follow = useCallback(async (conversationId: string) => {
    watch.current?.abort();
    const controller = new AbortController();
    watch.current = controller;
    setSelected(conversationId);
    setTranscript(emptyTranscript);
    setWatching(true);
    setError(null);
    let lastEventId: string | null = null;
    let current = emptyTranscript;
    try {
      for (let attempt = 0; !controller.signal.aborted && current.status === null; attempt++) {
        try {
          const body = await api.streamConversation(roomId, conversationId, lastEventId, controller.signal);
          for await (const { data, lastEventId: id } of readEvents(body)) {
            lastEventId = id || lastEventId;
            const event = parseConversationEvent(data);
            if (event) {
              current = applyEvent(current, event);
              setTranscript(current);
            }
          }
        } catch (failure) {
          if (controller.signal.aborted || attempt >= 5) throw failure;
        }
        if (current.status === null) await new Promise((resolve) => setTimeout(resolve, 1000));
      }
      await load();
    } catch (failure) {
      if (!(failure instanceof DOMException && failure.name === "AbortError")) setError(failure);
    } finally {
      setWatching(false);
    }
  }, [api, roomId, load]);

  const start = async (event: FormEvent) => {
    event.preventDefault();
    setError(null);
    try {
      const conversation = await api.startConversation(roomId, { topic, bots, max_turns: maxTurns });
      await load();
      void follow(conversation.conversation_id);
    } catch (failure) {
      setError(failure);
    }
  };

  const stop = async (conversationId: string) => {
    setError(null);
    try {
      await api.stopConversation(roomId, conversationId);
      await load();
    } catch (failure) {
      setError(failure);
    }
  };

  const download = async (conversationId: string, format: "json" | "md") => {
    setError(null);
    try {
      const text = await api.exportConversation(roomId, conversationId, format);
      const url = URL.createObjectURL(new Blob([text], { type: format === "md" ? "text/markdown" : "application/json" }));
      const link = document.createElement("a");
      link.href = url;
      link.download = `conversation-${conversationId}.${format}`;
      link.click();
      URL.revokeObjectURL(url);
    } catch (failure) {
      setError(failure);
    }
  };

  const setBot = (index: number, change: Partial<BotForm>) =>
    setBots((current) => current.map((bot, i) => (i === index ? { ...bot, ...change } : bot)));

  const shown = conversations.find((c) => c.conversation_id === selected);
  return (
    <section className="conversations">
      <h2>Agent conversations</h2>
      {!readOnly && (
        <form className="conversation-start" onSubmit={(event) => void start(event)}>
          <label htmlFor="conversation-topic">Topic</label>
          <textarea id="conversation-topic" rows={2} value={topic} onChange={(event) => setTopic(event.target.value)} required />
          {bots.map((bot, index) => (
            <fieldset key={index}>
              <legend>Bot {index + 1}</legend>
              <label>Name <input value={bot.name} onChange={(event) => setBot(index, { name: event.target.value })} required /></label>
              <label>
                Provider{" "}
                <select value={bot.provider} onChange={(event) => setBot(index, { provider: event.target.value })} required>
                  {providers.map((name) => <option key={name} value={name}>{name}</option>)}
                </select>
              </label>
              <label>Instructions <textarea rows={2} value={bot.instructions} onChange={(event) => setBot(index, { instructions: event.target.value })} /></label>
            </fieldset>
          ))}
          <label>Max turns <input type="number" min={1} max={50} value={maxTurns} onChange={(event) => setMaxTurns(Number(event.target.value))} /></label>
          <button type="submit">Start conversation</button>
        </form>
      )}
      <ul className="conversation-list">
        {conversations.map((c) => (
          <li key={c.conversation_id} data-conversation={c.conversation_id}>
            <button type="button" onClick={() => void follow(c.conversation_id)}>{c.topic}</button>{" "}
            <span className="conversation-status">{c.status} · {c.turns_done}/{c.max_turns} turns</span>
          </li>
        ))}
      </ul>
      {selected && (
        <div className="conversation-view">
          <div className="conversation-actions">
            <button type="button" disabled={readOnly || (shown?.status ?? "running") !== "running" || transcript.status !== null}
              onClick={() => void stop(selected)}>Stop</button>
            <button type="button" onClick={() => void download(selected, "md")}>Export Markdown</button>
            <button type="button" onClick={() => void download(selected, "json")}>Export JSON</button>
          </div>
          <ol className="conversation-turns" aria-live="polite" aria-busy={watching}>
            {transcript.turns.map((turn) => (
              <li key={turn.turn} data-turn={turn.turn} data-complete={turn.complete}>
                <strong>{turn.botName}</strong> <small>({turn.provider}, {turn.model})</small>
                <p>{turn.text}</p>
              </li>
            ))}
          </ol>
          {transcript.status && <p className="conversation-done">Conversation {transcript.status}.</p>}
          {transcript.error && <p role="alert">{transcript.error}</p>}
        </div>
      )}
      <ErrorText error={error} />
    </section>
  );
}
