import { spawn } from 'child_process';
import { CredentialSocket } from './credentialSocket';
import { SocketVariable, helperArguments } from './localRoom';

export interface GitResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** The git CLI in the open folder, argv only; with `credentials`, the extension answers git's credential requests for the backend. */
export async function runGit(cwd: string, args: readonly string[],
  credentials?: { backendUrl: string; login: string; accessToken: () => Promise<string> }): Promise<GitResult> {
  const socket = credentials ? await CredentialSocket.open(credentials.backendUrl, credentials.login, credentials.accessToken) : undefined;
  try {
    const env: NodeJS.ProcessEnv = { ...process.env, GIT_TERMINAL_PROMPT: '0' };
    let argv = [...args];
    if (socket && credentials) {
      env[SocketVariable] = socket.path;
      // The helper runs on the extension host's own runtime (VS Code's Electron acts as Node with this set).
      env.ELECTRON_RUN_AS_NODE = '1';
      argv = [...helperArguments(credentials.backendUrl, process.execPath), ...argv];
    }
    return await new Promise<GitResult>((resolve, reject) => {
      const child = spawn('git', argv, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', chunk => (stdout += chunk.toString('utf8')));
      child.stderr.on('data', chunk => (stderr += chunk.toString('utf8')));
      child.on('error', reject);
      child.on('close', code => resolve({ code: code ?? 1, stdout, stderr }));
    });
  } finally {
    await socket?.dispose();
  }
}

export async function gitOk(cwd: string, args: readonly string[],
  credentials?: { backendUrl: string; login: string; accessToken: () => Promise<string> }): Promise<string> {
  const result = await runGit(cwd, args, credentials);
  if (result.code !== 0) {
    throw new Error(`git ${args[0]} failed: ${result.stderr.trim() || `exit code ${result.code}`}`);
  }
  return result.stdout;
}
