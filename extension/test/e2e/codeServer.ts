import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

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
  let output = '';
  // Port 0: the kernel picks a free port (no race with other processes) and code-server logs which one.
  const child: ChildProcess = spawn(options.binary, [
    '--auth', 'none', '--bind-addr', '127.0.0.1:0', '--config', join(options.root, 'config.yaml'), '--disable-telemetry',
    '--disable-update-check', '--disable-workspace-trust', '--disable-getting-started-override', ...common, folder,
  ], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, CS_DISABLE_PROXY: '1' } });
  child.stdout?.on('data', chunk => { output += String(chunk); });
  child.stderr?.on('data', chunk => { output += String(chunk); });
  const deadline = Date.now() + 60_000;
  let url = '';
  for (;;) {
    if (child.exitCode !== null) {
      throw new Error(`code-server exited with ${child.exitCode}:\n${output}`);
    }
    const listening = /HTTP server listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(output);
    if (listening) {
      url = listening[1]!;
      try {
        if ((await fetch(`${url}/healthz`)).ok) {
          break;
        }
      } catch {
        // not answering yet
      }
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
