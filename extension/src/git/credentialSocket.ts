import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import { credentialAnswer, parseCredentialRequest } from './localRoom';

/**
 * A Unix socket in a fresh 0700 folder that answers git's credential requests for the backend with the signed-in
 * user's access token (the pattern VS Code's own git extension uses for askpass). It lives for one git run.
 */
export class CredentialSocket {
  private constructor(private readonly server: net.Server, private readonly folder: string, readonly path: string) {}

  static async open(backendUrl: string, login: string, accessToken: () => Promise<string>): Promise<CredentialSocket> {
    const folder = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'conductor-git-'));
    await fs.promises.chmod(folder, 0o700);
    const socketPath = path.join(folder, 'credential.sock');
    // allowHalfOpen: the helper ends its side after the request, and the answer still has to go back.
    const server = net.createServer({ allowHalfOpen: true }, connection => {
      let input = '';
      connection.on('data', chunk => {
        input += chunk.toString('utf8');
      });
      connection.on('end', () => {
        void accessToken()
          .then(token => connection.end(credentialAnswer(parseCredentialRequest(input), backendUrl, login, token) ?? ''))
          .catch(() => connection.end(''));
      });
      connection.on('error', () => connection.destroy());
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(socketPath, () => resolve());
    });
    return new CredentialSocket(server, folder, socketPath);
  }

  async dispose(): Promise<void> {
    await new Promise<void>(resolve => this.server.close(() => resolve()));
    await fs.promises.rm(this.folder, { recursive: true, force: true });
  }
}
