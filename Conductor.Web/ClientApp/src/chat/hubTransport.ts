import { HttpTransportType, HubConnection, HubConnectionBuilder, HubConnectionState, LogLevel, type IRetryPolicy } from "@microsoft/signalr";
import { apiBase } from "../api/client";
import type { ChatTransport } from "./roomChat";

/** Retries forever: quickly at first, then every 10 s (a laptop waking up, the Api restarting). */
export const reconnectPolicy: IRetryPolicy = {
  nextRetryDelayInMilliseconds: (context) => [0, 1000, 2000, 5000][context.previousRetryCount] ?? 10_000,
};

/**
 * The chat hub (`/hubs/chat`) through Conductor.Web's proxy. WebSockets only, without the negotiate request: SignalR
 * puts what `accessTokenFactory` answers in the socket URL's query, so it answers a fresh single-use socket ticket on
 * every (re)connect, never the access token.
 */
export function createHubTransport(socketTicket: () => Promise<string>): ChatTransport {
  const connection: HubConnection = new HubConnectionBuilder()
    .withUrl(`${apiBase}/hubs/chat`, {
      accessTokenFactory: socketTicket,
      skipNegotiation: true,
      transport: HttpTransportType.WebSockets,
    })
    .withAutomaticReconnect(reconnectPolicy)
    .configureLogging(LogLevel.None)
    .build();
  const closeHandlers: ((error?: Error) => void)[] = [];
  let stopped = false;

  // Automatic reconnect gives up only when the first connect fails or the server closes us; keep trying then too.
  connection.onclose((error) => {
    for (const handler of closeHandlers) {
      handler(error);
    }
    if (!stopped) {
      setTimeout(() => void restart(), 5000);
    }
  });
  const reconnectedHandlers: (() => void)[] = [];
  connection.onreconnected(() => reconnectedHandlers.forEach((handler) => handler()));

  async function restart(): Promise<void> {
    if (stopped || connection.state !== HubConnectionState.Disconnected) {
      return;
    }
    try {
      await connection.start();
      reconnectedHandlers.forEach((handler) => handler());
    } catch {
      setTimeout(() => void restart(), 10_000);
    }
  }

  return {
    start: () => connection.start(),
    stop: async () => {
      stopped = true;
      await connection.stop();
    },
    invoke: <T>(method: string, ...args: unknown[]) => connection.invoke<T>(method, ...args),
    on: (event, handler) => connection.on(event, handler),
    onReconnecting: (handler) => connection.onreconnecting(() => handler()),
    onReconnected: (handler) => reconnectedHandlers.push(handler),
    onClose: (handler) => closeHandlers.push(handler),
  };
}
