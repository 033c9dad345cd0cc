import * as vscode from 'vscode';
import WebSocket from 'ws';
import type { SocketTarget } from '../api/types';
import { PendingInput } from './pendingInput';
import { parseTerminalFrame, toTerminalText } from './terminalFrames';

/**
 * The room's shared terminal as a VS Code Pseudoterminal over `WS /ws/terminal/{room_id}/{terminal_id}`: output and
 * scrollback are written to the terminal; keystrokes and size changes are sent when the Api says we may write.
 */
export class SharedTerminal implements vscode.Pseudoterminal {
  private readonly writeEmitter = new vscode.EventEmitter<string>();
  private readonly closeEmitter = new vscode.EventEmitter<number | void>();
  private socket: WebSocket | undefined;
  private canWrite = false;
  private readonly pending = new PendingInput();
  /** The size VS Code last gave us before `ready` (sent then, when we may write). */
  private pendingDimensions: vscode.TerminalDimensions | undefined;
  /** Set by an `other_instance` error: the socket closes next, and the terminal stays open so the message can be read. */
  private refused = false;

  readonly onDidWrite = this.writeEmitter.event;
  readonly onDidClose = this.closeEmitter.event;

  constructor(private readonly target: (cols: number, rows: number) => Promise<SocketTarget>) {}

  open(initialDimensions: vscode.TerminalDimensions | undefined): void {
    void this.connect(initialDimensions?.columns ?? 80, initialDimensions?.rows ?? 24);
  }

  close(): void {
    this.socket?.close(1000);
  }

  handleInput(data: string): void {
    const now = this.pending.offer(data);
    if (now !== undefined) {
      this.send({ type: 'input', data: now });
    }
  }

  setDimensions(dimensions: vscode.TerminalDimensions): void {
    if (this.canWrite) {
      this.send({ type: 'resize', cols: dimensions.columns, rows: dimensions.rows });
    } else {
      this.pendingDimensions = dimensions;
    }
  }

  private async connect(cols: number, rows: number): Promise<void> {
    const { url, headers } = await this.target(cols, rows);
    const socket = new WebSocket(url, { headers });
    this.socket = socket;
    socket.on('message', (raw: WebSocket.RawData) => {
      const frame = parseTerminalFrame(raw.toString());
      switch (frame?.type) {
        case 'ready': {
          this.canWrite = frame.can_write;
          this.writeEmitter.fire(frame.scrollback);
          if (!frame.can_write) {
            this.writeEmitter.fire(toTerminalText('\n[Conductor: watching; the host can grant you typing]\n'));
          }
          const size = this.pendingDimensions;
          this.pendingDimensions = undefined;
          if (frame.can_write && size && (size.columns !== frame.cols || size.rows !== frame.rows)) {
            this.send({ type: 'resize', cols: size.columns, rows: size.rows });
          }
          const typed = this.pending.decide(frame.can_write);
          if (typed !== undefined) {
            this.send({ type: 'input', data: typed });
          }
          break;
        }
        case 'output':
          this.writeEmitter.fire(frame.data);
          break;
        case 'exit':
          this.writeEmitter.fire(toTerminalText(`\n[Conductor: the terminal ended (exit ${frame.code})]\n`));
          break;
        case 'error':
          this.refused ||= frame.code === 'other_instance';
          this.writeEmitter.fire(toTerminalText(`\n[Conductor: ${frame.message}]\n`));
          break;
        default:
          break;
      }
    });
    socket.on('unexpected-response', (_request, response) => {
      this.writeEmitter.fire(toTerminalText(`[Conductor: the terminal is not available (HTTP ${response.statusCode}); only the host opens one]\n`));
      this.closeEmitter.fire(1);
    });
    socket.on('close', () => {
      if (!this.refused) {
        this.closeEmitter.fire();
      }
    });
    socket.on('error', () => undefined);
  }

  private send(frame: object): void {
    if (this.socket?.readyState === WebSocket.OPEN) {
      this.socket.send(JSON.stringify(frame));
    }
  }
}
