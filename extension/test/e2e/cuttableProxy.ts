import { connect, createServer, type Server, type Socket } from 'node:net';

/**
 * A TCP proxy on 127.0.0.1 in front of the Api that the test can cut, as a network failure would: every open
 * connection is destroyed and new ones are refused until `restore`. The extension talks to the Api through it.
 */
export class CuttableProxy {
  private readonly sockets = new Set<Socket>();
  private cutOff = false;
  private server: Server | undefined;

  async start(target: URL): Promise<string> {
    const port = Number(target.port || 80);
    this.server = createServer(client => {
      if (this.cutOff) {
        client.destroy();
        return;
      }
      const upstream = connect(port, target.hostname);
      for (const socket of [client, upstream]) {
        this.sockets.add(socket);
        socket.on('close', () => this.sockets.delete(socket));
        socket.on('error', () => socket.destroy());
      }
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
      client.pipe(upstream);
      upstream.pipe(client);
    });
    await new Promise<void>(resolve => this.server!.listen(0, '127.0.0.1', resolve));
    const address = this.server.address();
    if (typeof address !== 'object' || address === null) {
      throw new Error('The proxy did not bind.');
    }
    return `http://127.0.0.1:${address.port}`;
  }

  cut(): void {
    this.cutOff = true;
    for (const socket of this.sockets) {
      socket.destroy();
    }
  }

  restore(): void {
    this.cutOff = false;
  }

  async stop(): Promise<void> {
    this.cut();
    await new Promise<void>(resolve => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}
