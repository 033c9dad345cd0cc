import { useCallback, useEffect, useRef, useState, type FormEvent } from "react";
import type { AiStatus, RoomEvent } from "../api/contracts";
import { ErrorText } from "../ui/ErrorText";
import { useServices } from "../ui/services";
import { ChangeReview } from "./ChangeReview";
import { parseInferData, readEventData } from "./sse";

export function AiPanel({ roomId, readOnly, subscribe }: {
  roomId: string;
  readOnly: boolean;
  subscribe: (listener: (event: RoomEvent) => void) => () => void;
}) {
  const { api } = useServices();
  const [status, setStatus] = useState<AiStatus | null>(null);
  const [prompt, setPrompt] = useState("");
  const [answer, setAnswer] = useState("");
  const [streaming, setStreaming] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const abort = useRef<AbortController | null>(null);

  const load = useCallback(async () => {
    try {
      setStatus(await api.aiStatus());
    } catch (failure) {
      setError(failure);
    }
  }, [api]);

  useEffect(() => {
    void load();
    return () => abort.current?.abort();
  }, [load]);

  const select = async (name: string) => {
    setError(null);
    try {
      await api.selectProvider(name);
      await load();
    } catch (failure) {
      setError(failure);
    }
  };

  const ask = async (event: FormEvent) => {
    event.preventDefault();
    setError(null);
    setAnswer("");
    setStreaming(true);
    const controller = new AbortController();
    abort.current = controller;
    try {
      const body = await api.infer(prompt, controller.signal);
      for await (const data of readEventData(body)) {
        const item = parseInferData(data);
        if (item?.kind === "token") setAnswer((text) => text + item.text);
        if (item?.kind === "error") setError(new Error(item.message));
        if (item?.kind === "done") break;
      }
    } catch (failure) {
      if (!(failure instanceof DOMException && failure.name === "AbortError")) setError(failure);
    } finally {
      setStreaming(false);
      abort.current = null;
    }
  };

  return (
    <section className="ai">
      <div className="ai-ask">
        <h2 id="providers-heading">AI providers</h2>
        {status ? (
          <table className="providers" aria-labelledby="providers-heading">
            <thead>
              <tr><th>Provider</th><th>Model</th><th>Available</th><th>Latency</th><th /></tr>
            </thead>
            <tbody>
              {status.providers.map((provider) => (
                <tr key={provider.name} data-provider={provider.name}>
                  <td>{provider.name}</td>
                  <td>{provider.model}</td>
                  <td>{provider.available ? "available" : `unavailable${provider.error ? `: ${provider.error}` : ""}`}</td>
                  <td>{provider.latency_ms === null ? "–" : `${provider.latency_ms} ms`}</td>
                  <td>
                    {status.active_provider === provider.name ? (
                      <strong>Selected</strong>
                    ) : (
                      <button type="button" disabled={!provider.available} onClick={() => void select(provider.name)}>
                        Select {provider.name}
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        ) : (
          <p aria-busy="true">Loading providers…</p>
        )}
        <form className="prompt" onSubmit={(event) => void ask(event)}>
          <label htmlFor="ai-prompt">Prompt</label>
          <textarea id="ai-prompt" rows={3} value={prompt} onChange={(event) => setPrompt(event.target.value)} required />
          <div className="prompt-actions">
            <button type="submit" disabled={streaming}>Ask</button>
            <button type="button" disabled={!streaming} onClick={() => abort.current?.abort()}>Stop</button>
          </div>
        </form>
        <h3 id="answer-heading">Answer</h3>
        <div className="ai-answer" aria-live="polite" aria-labelledby="answer-heading" role="region" aria-busy={streaming}>
          {answer}
        </div>
        <ErrorText error={error} />
      </div>
      <ChangeReview roomId={roomId} readOnly={readOnly} subscribe={subscribe} />
    </section>
  );
}
