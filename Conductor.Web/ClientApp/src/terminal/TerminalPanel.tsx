import { useEffect, useRef, useState, type FormEvent } from "react";
import { Terminal } from "@xterm/xterm";
import { FitAddon } from "@xterm/addon-fit";
import "@xterm/xterm/css/xterm.css";
import { ErrorText } from "../ui/ErrorText";
import { useServices } from "../ui/services";
import { isTerminalId, parseTerminalFrame, terminalSocketUrl } from "./terminalProtocol";

interface Props {
  roomId: string;
  isHost: boolean;
  readOnly: boolean;
}

type Connection = { socket: WebSocket; terminal: Terminal; fit: FitAddon };

/** The room's shared terminal in xterm.js: the host opens it (and types); members watch, and type when granted. */
export function TerminalPanel({ roomId, isHost, readOnly }: Props) {
  const { api } = useServices();
  const [terminalId, setTerminalId] = useState("main");
  const [status, setStatus] = useState<string | null>(null);
  const [canWrite, setCanWrite] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const host = useRef<HTMLDivElement | null>(null);
  const connection = useRef<Connection | null>(null);

  const disconnect = () => {
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
    connection.current = { socket, terminal, fit };
    setStatus("Connecting…");
    let writable = false;
    terminal.onData((data) => {
      if (writable && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify({ type: "input", data }));
    });
    terminal.onResize(({ cols, rows }) => {
      if (writable && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify({ type: "resize", cols, rows }));
    });
    socket.onmessage = (message) => {
      const frame = typeof message.data === "string" ? parseTerminalFrame(message.data) : null;
      if (!frame) return;
      switch (frame.type) {
        case "ready":
          writable = frame.can_write;
          setCanWrite(frame.can_write);
          setStatus(frame.can_write ? "Connected: you can type" : "Connected: watching");
          terminal.write(frame.scrollback);
          break;
        case "output":
          terminal.write(frame.data);
          break;
        case "resized":
          if (!writable) terminal.resize(frame.cols, frame.rows);
          break;
        case "exit":
          setStatus(`The terminal ended (exit ${frame.code}).`);
          break;
        case "error":
          setError(new Error(frame.message));
          break;
        case "writers":
          break;
      }
    };
    socket.onclose = (closed) => {
      setStatus((current) => (current?.startsWith("The terminal ended") ? current : closed.code === 1000 ? "Disconnected." : "The terminal is not open (only the host opens one)."));
    };
  };

  const close = () => connection.current?.socket.send(JSON.stringify({ type: "close" }));

  return (
    <section className="terminal" aria-labelledby="terminal-heading">
      <h2 id="terminal-heading">Terminal</h2>
      <form onSubmit={(event) => void connect(event)}>
        <label htmlFor="terminal-name">Terminal name</label>{" "}
        <input id="terminal-name" value={terminalId} onChange={(event) => setTerminalId(event.target.value)} />{" "}
        <button type="submit" disabled={readOnly && isHost}>{isHost ? "Open terminal" : "Watch terminal"}</button>{" "}
        {isHost && <button type="button" onClick={close} disabled={!canWrite}>Close terminal</button>}
      </form>
      {status && <p role="status">{status}</p>}
      <ErrorText error={error} />
      <div className="terminal-view" ref={host} aria-label="Terminal" />
    </section>
  );
}
