import { useEffect, useLayoutEffect, useRef, useState, type DragEvent, type FormEvent, type KeyboardEvent } from "react";
import type { ChatMessage, CodeSnippet, FileRef } from "../api/contracts";
import { downloadFile, formatBytes, maxUploadBytes, uploadFile } from "../api/upload";
import type { AiAnswer, RoomChat, RoomChatState } from "../chat/roomChat";
import { CodeBlock } from "./CodeBlock";
import { ErrorText } from "./ErrorText";
import { useServices } from "./services";

const languages = ["plaintext", "typescript", "javascript", "csharp", "python", "json", "markdown", "shell", "sql", "yaml"];

interface Props {
  chat: RoomChat;
  state: RoomChatState;
  readOnly: boolean;
  me: string;
}

export function ChatPanel({ chat, state, readOnly, me }: Props) {
  const { session } = useServices();
  const [text, setText] = useState("");
  const [asCode, setAsCode] = useState(false);
  const [language, setLanguage] = useState("typescript");
  const [error, setError] = useState<unknown>(null);
  const [progress, setProgress] = useState<number | null>(null);
  const [now, setNow] = useState(() => Date.now());
  const list = useRef<HTMLOListElement>(null);
  const fileInput = useRef<HTMLInputElement>(null);
  const stickToBottom = useRef(true);
  const keepOffset = useRef<number | null>(null);

  // Typing indicators expire on their own (3 s on the server); re-render to drop them.
  useEffect(() => {
    const timer = window.setInterval(() => setNow(Date.now()), 1000);
    return () => window.clearInterval(timer);
  }, []);

  // New messages scroll into view when the reader is at the bottom; older pages keep the reader's place.
  useLayoutEffect(() => {
    const element = list.current;
    if (!element) return;
    if (keepOffset.current !== null) {
      element.scrollTop = element.scrollHeight - keepOffset.current;
      keepOffset.current = null;
    } else if (stickToBottom.current) {
      element.scrollTop = element.scrollHeight;
    }
  }, [state.messages, state.answers]);

  const loadEarlier = async () => {
    const element = list.current;
    if (!element || state.reachedStart) return;
    keepOffset.current = element.scrollHeight - element.scrollTop;
    try {
      await chat.loadEarlier();
    } catch (failure) {
      keepOffset.current = null;
      setError(failure);
    }
  };

  const onScroll = () => {
    const element = list.current;
    if (!element) return;
    stickToBottom.current = element.scrollHeight - element.scrollTop - element.clientHeight < 40;
    if (element.scrollTop < 40 && !state.reachedStart && keepOffset.current === null) {
      void loadEarlier();
    }
  };

  const send = async (event?: FormEvent) => {
    event?.preventDefault();
    const content = text.trim();
    if (!content) return;
    setError(null);
    setText("");
    stickToBottom.current = true;
    try {
      if (asCode) {
        const lines = text.replace(/\n$/, "").split("\n").length;
        const snippet: CodeSnippet = { file: "snippet", language, start_line: 1, end_line: lines, code: text };
        await chat.send(snippet, "code_snippet");
      } else {
        await chat.send(content);
      }
    } catch (failure) {
      setError(failure);
    }
  };

  const onKeyDown = (event: KeyboardEvent<HTMLTextAreaElement>) => {
    if (event.key === "Enter" && !event.shiftKey && !asCode) {
      event.preventDefault();
      void send();
    }
  };

  const upload = async (file: File) => {
    setError(null);
    setProgress(0);
    try {
      const token = await session.accessToken();
      await uploadFile(chat.roomId, file, token ?? "", setProgress);
    } catch (failure) {
      setError(failure);
    } finally {
      setProgress(null);
    }
  };

  const onDrop = (event: DragEvent) => {
    event.preventDefault();
    const file = event.dataTransfer.files[0];
    if (file && !readOnly) void upload(file);
  };

  const typing = chat.typingAt(now).filter((t) => t.user_id !== me);
  const chatError = state.error;

  return (
    <section className="chat" aria-labelledby="chat-heading" onDragOver={(event) => event.preventDefault()} onDrop={onDrop}>
      <h2 id="chat-heading">Chat</h2>
      {!state.reachedStart && state.messages.length > 0 && (
        <button type="button" className="link" onClick={() => void loadEarlier()}>
          Load earlier messages
        </button>
      )}
      <ol className="messages" ref={list} onScroll={onScroll} aria-label="Messages" tabIndex={0}>
        {state.messages.map((message) => (
          <MessageItem key={message.id} message={message} mine={message.user_id === me} />
        ))}
        {state.pending
          .filter((pending) => !state.messages.some((m) => m.id === pending.id))
          .map((pending) => (
            <li key={pending.id} className="message pending">
              <span className="author">sending…</span>
              <div className="body">{typeof pending.content === "string" ? pending.content : "code snippet"}</div>
            </li>
          ))}
        {state.answers.map((answer) => (
          <AiAnswerItem key={answer.id} answer={answer} onStop={() => void chat.stopAnswer(answer.id)} />
        ))}
      </ol>
      <p className="typing" aria-live="polite">
        {typing.length > 0 ? `${typing.map((t) => t.login).join(", ")} ${typing.length === 1 ? "is" : "are"} typing…` : ""}
      </p>
      {progress !== null && (
        <label className="progress">
          Uploading
          <progress value={progress} max={1} />
        </label>
      )}
      <ErrorText error={error ?? chatError} />
      {readOnly ? (
        <p className="readonly">This room is read-only.</p>
      ) : (
        <form className="composer" onSubmit={(event) => void send(event)}>
          <label htmlFor="message">Message</label>
          <textarea
            id="message"
            value={text}
            rows={asCode ? 6 : 2}
            onChange={(event) => {
              setText(event.target.value);
              chat.typing();
            }}
            onKeyDown={onKeyDown}
            className={asCode ? "code" : undefined}
          />
          <div className="composer-actions">
            <label className="checkbox">
              <input type="checkbox" checked={asCode} onChange={(event) => setAsCode(event.target.checked)} />
              Send as code
            </label>
            {asCode && (
              <>
                <label htmlFor="snippet-language">Language</label>
                <select id="snippet-language" value={language} onChange={(event) => setLanguage(event.target.value)}>
                  {languages.map((l) => (
                    <option key={l}>{l}</option>
                  ))}
                </select>
              </>
            )}
            <button type="button" onClick={() => fileInput.current?.click()} title={`Up to ${formatBytes(maxUploadBytes)}; or drop a file on the chat`}>
              Upload file
            </button>
            <input
              ref={fileInput}
              type="file"
              hidden
              aria-label="File to upload"
              onChange={(event) => {
                const file = event.target.files?.[0];
                event.target.value = "";
                if (file) void upload(file);
              }}
            />
            <button type="submit">Send</button>
          </div>
          <p className="hint">
            Files up to {formatBytes(maxUploadBytes)}: pick one or drop it on the chat. Write @ai to ask the AI assistant.
          </p>
        </form>
      )}
    </section>
  );
}

/** An AI answer as it streams: the text so far, what tool it is using, and a stop button for every member. */
function AiAnswerItem({ answer, onStop }: { answer: AiAnswer; onStop: () => void }) {
  const streaming = answer.status === "streaming";
  return (
    <li className={`message kind-ai ai-answer ${answer.status}`} data-answer={answer.id} aria-busy={streaming}>
      <span className="author">AI</span>
      <span className="provider">{answer.provider}</span>
      <div className="body">
        <span className="text">{answer.text}</span>
        {streaming && <span className="cursor" aria-hidden="true">▍</span>}
      </div>
      {answer.tool && <p className="ai-tool">Using {answer.tool}…</p>}
      {answer.status === "stopped" && <p className="ai-status">Stopped.</p>}
      {answer.status === "failed" && <p className="ai-status error">No answer: {answer.error ?? "the provider failed"}</p>}
      {streaming && (
        <button type="button" className="ai-stop" onClick={onStop}>
          Stop
        </button>
      )}
    </li>
  );
}

function MessageItem({ message, mine }: { message: ChatMessage; mine: boolean }) {
  const { session } = useServices();
  const [error, setError] = useState<unknown>(null);
  const time = new Date(message.timestamp).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  let body;
  switch (message.kind) {
    case "code_snippet": {
      const snippet = message.content as CodeSnippet;
      body = <CodeBlock code={snippet.code} language={snippet.language} />;
      break;
    }
    case "file": {
      const file = message.content as FileRef;
      body = (
        <span className="file">
          <button
            type="button"
            className="link"
            onClick={() => {
              void session
                .accessToken()
                .then((token) => downloadFile(file.file_id, file.name, token ?? ""))
                .catch(setError);
            }}
          >
            {file.name}
          </button>
          {file.size !== undefined && <span className="size"> ({formatBytes(file.size)})</span>}
          <ErrorText error={error} />
        </span>
      );
      break;
    }
    default:
      body = <span className="text">{String(message.content)}</span>;
  }
  return (
    <li className={`message kind-${message.kind}${mine ? " mine" : ""}`} data-seq={message.seq}>
      <span className="author">{message.kind === "system" ? "Conductor" : message.kind === "ai" ? "AI" : message.login}</span>
      <time dateTime={message.timestamp}>{time}</time>
      <div className="body">{body}</div>
    </li>
  );
}
