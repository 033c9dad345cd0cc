/**
 * The pure parts of working with a room through its git remote (`/git/{room_id}.git`) from the open folder: names,
 * the credential helper git is given, and the answers to git's credential requests. The token reaches git only on
 * the helper's stdout, from the extension over a private socket: never in argv, the environment or a file.
 */

export const RemoteName = 'conductor';
export const RoomConfigKey = 'conductor.room';
/** The environment variable that tells the helper where the extension's credential socket is (a path, no secret). */
export const SocketVariable = 'CONDUCTOR_GIT_CREDENTIAL_SOCKET';

export function roomBranch(roomId: string): string {
  return `session/${roomId}`;
}

export function memberBranch(roomId: string, login: string): string {
  return `session/${roomId}-${login}`;
}

export function remoteUrl(backendUrl: string, roomId: string): string {
  return new URL(`git/${encodeURIComponent(roomId)}.git`, backendUrl.endsWith('/') ? backendUrl : `${backendUrl}/`).toString();
}

/** scheme://host[:port] of the backend: git's credential requests name it as protocol and host. */
export function origin(backendUrl: string): string {
  return new URL(backendUrl).origin;
}

/**
 * The inline credential helper: git runs `node -e <script> get` with its request on stdin; the script forwards the
 * request to the extension's socket and prints the answer. Anything but `get` (store, erase) does nothing.
 */
export const HelperScript =
  "if(process.argv[1]!=='get')process.exit(0);" +
  "const net=require('net');let input='';" +
  "process.stdin.on('data',d=>input+=d).on('end',()=>{" +
  `const s=net.connect(process.env.${SocketVariable},()=>s.end(input));` +
  "s.on('error',()=>process.exit(0));s.pipe(process.stdout);});";

/** `-c` arguments that make the extension the only credential helper git asks for the backend (no "store" helper ever sees the token). */
export function helperArguments(backendUrl: string, nodePath: string): string[] {
  const key = `credential.${origin(backendUrl)}.helper`;
  const command = `!'${nodePath.replace(/'/g, `'\\''`)}' -e "${HelperScript.replace(/"/g, '\\"')}"`;
  return ['-c', `${key}=`, '-c', `${key}=${command}`];
}

/** git's credential request (`key=value` lines, gitcredentials(7)). */
export function parseCredentialRequest(text: string): Map<string, string> {
  const fields = new Map<string, string>();
  for (const line of text.split('\n')) {
    const equals = line.indexOf('=');
    if (equals > 0) {
      fields.set(line.slice(0, equals), line.slice(equals + 1).replace(/\r$/, ''));
    }
  }
  return fields;
}

/** The answer to a request for the backend, or null for any other host (git then asks no further and fails). */
export function credentialAnswer(request: Map<string, string>, backendUrl: string, login: string, token: string): string | null {
  const protocol = request.get('protocol');
  const host = request.get('host');
  if (!protocol || !host || `${protocol}://${host}`.toLowerCase() !== origin(backendUrl).toLowerCase()) {
    return null;
  }
  return `username=${login}\npassword=${token}\n`;
}

/** What the room-from-folder command calls the room: the folder's name, trimmed to the Api's 100 characters. */
export function roomNameFor(folderPath: string): string {
  const name = folderPath.replace(/[\\/]+$/, '').split(/[\\/]/).pop() ?? 'project';
  return (name.trim() || 'project').slice(0, 100);
}
