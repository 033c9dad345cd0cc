import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';

/** A free TCP port on 127.0.0.1 (bound and released; code-server binds it right after). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export interface CodeServer {
  readonly url: string;
  readonly output: () => string;
  stop(): Promise<void>;
}

/**
 * code-server (VS Code 1.100 in the browser) with our .vsix installed into throwaway extension and user-data folders,
 * listening on 127.0.0.1 only, without auth (nothing but this test can reach it).
 */
export async function startCodeServer(options: {
  readonly binary: string;
  readonly vsix: string;
  readonly root: string;
  readonly settings: Record<string, unknown>;
}): Promise<CodeServer> {
  const extensions = join(options.root, 'extensions');
  const userData = join(options.root, 'user-data');
  const folder = join(options.root, 'folder');
  for (const dir of [extensions, join(userData, 'User'), folder]) {
    mkdirSync(dir, { recursive: true });
  }
  writeFileSync(join(userData, 'User', 'settings.json'), JSON.stringify(options.settings, null, 2));
  const common = ['--extensions-dir', extensions, '--user-data-dir', userData];
  const install = spawnSync(options.binary, ['--install-extension', options.vsix, ...common], { encoding: 'utf8', timeout: 120_000 });
  if (install.status !== 0 || !/was successfully installed/.test(install.stdout + install.stderr)) {
    throw new Error(`Installing the .vsix into code-server failed (${install.status}):\n${install.stdout}\n${install.stderr}`);
  }
  const port = await freePort();
  let output = '';
  const child: ChildProcess = spawn(options.binary, [
    '--auth', 'none', '--bind-addr', `127.0.0.1:${port}`, '--disable-telemetry', '--disable-update-check',
    '--disable-workspace-trust', '--disable-getting-started-override', ...common, folder,
  ], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, CS_DISABLE_PROXY: '1' } });
  child.stdout?.on('data', chunk => { output += String(chunk); });
  child.stderr?.on('data', chunk => { output += String(chunk); });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) {
      throw new Error(`code-server exited with ${child.exitCode}:\n${output}`);
    }
    try {
      const response = await fetch(`${url}/healthz`);
      if (response.ok) {
        break;
      }
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`code-server did not answer within 60 s:\n${output}`);
    }
    await new Promise(resolve => setTimeout(resolve, 200));
  }
  return {
    url: `${url}/?folder=${encodeURIComponent(folder)}`,
    output: () => output,
    stop: () => new Promise<void>(resolve => {
      if (child.exitCode !== null) {
        resolve();
        return;
      }
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      child.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      child.kill('SIGTERM');
    }),
  };
}
