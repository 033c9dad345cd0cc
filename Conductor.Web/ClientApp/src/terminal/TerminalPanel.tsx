import { useEffect, useRef, useState, type FormEvent } from "react";
import { Terminal } from "@xterm/xterm";
import { FitAddon } from "@xterm/addon-fit";
import "@xterm/xterm/css/xterm.css";
import type { RoomMember } from "../api/contracts";
import { ErrorText } from "../ui/ErrorText";
import { useServices } from "../ui/services";
import { isTerminalId, parseTerminalFrame, terminalSocketUrl } from "./terminalProtocol";

interface Props {
  roomId: string;
  isHost: boolean;
  readOnly: boolean;
  /** The signed-in user's id: a `writers` frame naming it lets this member type. */
  me: string;
  /** The room's members, whom the host may let type. */
  members: RoomMember[];
}

type Connection = { socket: WebSocket; terminal: Terminal; fit: FitAddon; resizes: ResizeObserver };

/** The room's shared terminal in xterm.js: the host opens it (and types); members watch, and type when granted. */
export function TerminalPanel({ roomId, isHost, readOnly, me, members }: Props) {
  const { api } = useServices();
  const [terminalId, setTerminalId] = useState("main");
  const [status, setStatus] = useState<string | null>(null);
  const [canWrite, setCanWrite] = useState(false);
  const [connected, setConnected] = useState(false);
  const [writers, setWriters] = useState<string[]>([]);
  const [error, setError] = useState<unknown>(null);
  const host = useRef<HTMLDivElement | null>(null);
  const connection = useRef<Connection | null>(null);

  const disconnect = () => {
    connection.current?.resizes.disconnect();
    connection.current?.socket.close();
    connection.current?.terminal.dispose();
    connection.current = null;
  };
  useEffect(() => disconnect, []);

  const connect = async (event: FormEvent) => {
    event.preventDefault();
    setError(null);
    if (!isTerminalId(terminalId)) {
      setError(new Error("A terminal name is 1 to 64 of a-z, 0-9 and '-'."));
      return;
    }
    if (!host.current) return;
    let ticket: string;
    try {
      ticket = (await api.socketTicket()).ticket;
    } catch (failure) {
      setError(failure);
      return;
    }
    disconnect();
    const terminal = new Terminal({ convertEol: false, cursorBlink: true, scrollback: 5000 });
    const fit = new FitAddon();
    terminal.loadAddon(fit);
    terminal.open(host.current);
    fit.fit();
    const socket = new WebSocket(terminalSocketUrl(window.location.origin, roomId, terminalId, ticket, terminal.cols, terminal.rows));
    let writable = false;
    // Whoever may write sizes the shell to their view; watchers take the writer's size (ready, resized) instead.
    const resizes = new ResizeObserver(() => {
      if (writable) fit.fit();
    });
    resizes.observe(host.current);
    connection.current = { socket, terminal, fit, resizes };
    setStatus("Connecting…");
    setConnected(false);
    setWriters([]);
    const becomeWritable = (value: boolean) => {
      writable = value;
      setCanWrite(value);
      setStatus(value ? "Connected: you can type" : "Connected: watching");
      if (value) fit.fit();
    };
    terminal.onData((data) => {
      if (writable && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify({ type: "input", data }));
    });
    terminal.onResize(({ cols, rows }) => {
      if (writable && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify({ type: "resize", cols, rows }));
    });
    let terminalHost = "";
    let refusal: string | null = null;
    socket.onmessage = (message) => {
      const frame = typeof message.data === "string" ? parseTerminalFrame(message.data) : null;
      if (!frame) return;
      switch (frame.type) {
        case "ready":
          terminalHost = frame.host_user_id;
          setConnected(true);
          if (!frame.can_write) terminal.resize(frame.cols, frame.rows);
          terminal.write(frame.scrollback);
          becomeWritable(frame.can_write);
          break;
        case "output":
          terminal.write(frame.data);
          break;
        case "resized":
          if (!writable) terminal.resize(frame.cols, frame.rows);
          break;
        case "exit":
          setStatus(`The terminal ended (exit ${frame.code}).`);
          setConnected(false);
          break;
        case "error":
          // other_instance: the terminal runs on another Api instance; the server closes the socket after this frame.
          if (frame.code === "other_instance") refusal = frame.message;
          else setError(new Error(frame.message));
          break;
        case "writers":
          setWriters(frame.user_ids);
          if (me !== terminalHost) becomeWritable(frame.user_ids.includes(me));
          break;
      }
    };
    socket.onclose = (closed) => {
      setConnected(false);
      setStatus((current) =>
        refusal ?? (current?.startsWith("The terminal ended") ? current : closed.code === 1000 ? "Disconnected." : "The terminal is not open (only the host opens one)."),
      );
    };
  };

  const send = (frame: object) => connection.current?.socket.send(JSON.stringify(frame));
  const guests = members.filter((member) => member.user_id !== me);

  return (
    <section className="terminal" aria-labelledby="terminal-heading">
      <h2 id="terminal-heading">Terminal</h2>
      <form onSubmit={(event) => void connect(event)}>
        <label htmlFor="terminal-name">Terminal name</label>{" "}
        <input id="terminal-name" value={terminalId} onChange={(event) => setTerminalId(event.target.value)} />{" "}
        <button type="submit" disabled={readOnly && isHost}>{isHost ? "Open terminal" : "Watch terminal"}</button>{" "}
        {isHost && <button type="button" onClick={() => send({ type: "close" })} disabled={!canWrite}>Close terminal</button>}
      </form>
      {status && <p role="status">{status}</p>}
      <ErrorText error={error} />
      {isHost && connected && guests.length > 0 && (
        <fieldset className="terminal-writers">
          <legend>Who may type</legend>
          {guests.map((member) => (
            <label key={member.user_id}>
              <input
                type="checkbox"
                checked={writers.includes(member.user_id)}
                onChange={(event) => send({ type: event.target.checked ? "grant" : "revoke", user_id: member.user_id })}
              />{" "}
              {member.login}
            </label>
          ))}
        </fieldset>
      )}
      <div className="terminal-view" ref={host} aria-label="Terminal" />
    </section>
  );
}
