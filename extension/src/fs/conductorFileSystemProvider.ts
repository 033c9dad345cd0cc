import * as vscode from 'vscode';
import { WorkspaceFiles, WorkspaceFsError, type EntryKind } from './workspaceFiles';

export const Scheme = 'conductor';

/** `conductor://{room_id}/path` → room and path. */
export function roomAndPath(uri: vscode.Uri): { roomId: string; path: string } {
  return { roomId: uri.authority, path: uri.path };
}

export function fileUri(roomId: string, path: string): vscode.Uri {
  return vscode.Uri.from({ scheme: Scheme, authority: roomId, path: '/' + path.replace(/^\/+/, '') });
}

/**
 * VS Code's side of the `conductor://` file system: maps calls onto {@link WorkspaceFiles} and its errors onto
 * `FileSystemError`s, and fires `onDidChangeFile` for room events so open editors refresh.
 */
export class ConductorFileSystemProvider implements vscode.FileSystemProvider {
  private readonly changes = new vscode.EventEmitter<vscode.FileChangeEvent[]>();
  readonly onDidChangeFile = this.changes.event;

  /**
   * `current` gives the file logic for the configured backend (it is replaced when conductor.backendUrl changes).
   * `ready` settles once the session kept in SecretStorage is restored: after a window reload VS Code resolves a
   * `conductor://` workspace folder as soon as the extension activates, before the tokens are back, and a call made
   * then would fail as "not signed in" and leave the Explorer without the folder.
   */
  constructor(private readonly current: () => WorkspaceFiles, private readonly ready: () => Promise<unknown> = () => Promise.resolve()) {}

  private get files(): WorkspaceFiles {
    return this.current();
  }

  watch(): vscode.Disposable {
    // Changes arrive as room events on the chat socket (see notifyRemoteChange); there is nothing to start per watch.
    return new vscode.Disposable(() => undefined);
  }

  async stat(uri: vscode.Uri): Promise<vscode.FileStat> {
    const { roomId, path } = roomAndPath(uri);
    const stat = await this.guard(() => this.files.stat(roomId, path), uri);
    return { type: toFileType(stat.kind), ctime: stat.mtime, mtime: stat.mtime, size: stat.size };
  }

  async readDirectory(uri: vscode.Uri): Promise<[string, vscode.FileType][]> {
    const { roomId, path } = roomAndPath(uri);
    const entries = await this.guard(() => this.files.readDirectory(roomId, path), uri);
    return entries.map(([name, kind]) => [name, toFileType(kind)]);
  }

  async readFile(uri: vscode.Uri): Promise<Uint8Array> {
    const { roomId, path } = roomAndPath(uri);
    return this.guard(() => this.files.readFile(roomId, path), uri);
  }

  async writeFile(uri: vscode.Uri, content: Uint8Array, options: { readonly create: boolean; readonly overwrite: boolean }): Promise<void> {
    const { roomId, path } = roomAndPath(uri);
    const existed = this.files.etagOf(roomId, path) !== undefined;
    await this.guard(() => this.files.writeFile(roomId, path, content, options), uri);
    this.changes.fire([{ type: existed ? vscode.FileChangeType.Changed : vscode.FileChangeType.Created, uri }]);
  }

  async delete(uri: vscode.Uri, options: { readonly recursive: boolean }): Promise<void> {
    const { roomId, path } = roomAndPath(uri);
    await this.guard(() => this.files.delete(roomId, path, options.recursive), uri);
    this.changes.fire([{ type: vscode.FileChangeType.Deleted, uri }]);
  }

  async rename(oldUri: vscode.Uri, newUri: vscode.Uri, options: { readonly overwrite: boolean }): Promise<void> {
    const from = roomAndPath(oldUri);
    const to = roomAndPath(newUri);
    if (from.roomId !== to.roomId) {
      throw vscode.FileSystemError.NoPermissions('Files can only be moved within one room.');
    }
    await this.guard(() => this.files.rename(from.roomId, from.path, to.path, options.overwrite), oldUri);
    this.changes.fire([{ type: vscode.FileChangeType.Deleted, uri: oldUri }, { type: vscode.FileChangeType.Created, uri: newUri }]);
  }

  async createDirectory(uri: vscode.Uri): Promise<void> {
    const { roomId, path } = roomAndPath(uri);
    await this.guard(() => this.files.createDirectory(roomId, path), uri);
    this.changes.fire([{ type: vscode.FileChangeType.Created, uri }]);
  }

  /**
   * A `file_changed` room event: tell VS Code, which re-stats the file and reloads a clean editor (that read takes the
   * new etag). The etag we hold is kept on purpose: a dirty editor saved later must still be refused as a conflict.
   */
  notifyRemoteChange(roomId: string, path: string, change: 'created' | 'changed' | 'deleted' | 'renamed', from?: string): void {
    const uri = fileUri(roomId, path);
    const events: vscode.FileChangeEvent[] = [];
    if (change === 'renamed' && from) {
      events.push({ type: vscode.FileChangeType.Deleted, uri: fileUri(roomId, from) }, { type: vscode.FileChangeType.Created, uri });
    } else {
      const type = change === 'created' ? vscode.FileChangeType.Created : change === 'deleted' ? vscode.FileChangeType.Deleted : vscode.FileChangeType.Changed;
      events.push({ type, uri });
    }
    this.changes.fire(events);
  }

  dispose(): void {
    this.changes.dispose();
  }

  private async guard<T>(operation: () => Promise<T>, uri: vscode.Uri): Promise<T> {
    await this.ready();
    try {
      return await operation();
    } catch (error) {
      throw toFileSystemError(error, uri);
    }
  }
}

function toFileType(kind: EntryKind): vscode.FileType {
  switch (kind) {
    case 'directory':
      return vscode.FileType.Directory;
    case 'symlink':
      return vscode.FileType.File | vscode.FileType.SymbolicLink;
    default:
      return vscode.FileType.File;
  }
}

function toFileSystemError(error: unknown, uri: vscode.Uri): Error {
  if (!(error instanceof WorkspaceFsError)) {
    return error instanceof Error ? error : new Error(String(error));
  }
  switch (error.kind) {
    case 'FileNotFound':
      return vscode.FileSystemError.FileNotFound(uri);
    case 'FileExists':
      return vscode.FileSystemError.FileExists(uri);
    case 'FileIsADirectory':
      return vscode.FileSystemError.FileIsADirectory(uri);
    case 'FileNotADirectory':
      return vscode.FileSystemError.FileNotADirectory(uri);
    case 'NoPermissions':
      return vscode.FileSystemError.NoPermissions(error.message);
    case 'Conflict':
      // VS Code has no "conflict" code; NoPermissions carries our message to the save error notification.
      return vscode.FileSystemError.NoPermissions(error.message);
    default:
      return vscode.FileSystemError.Unavailable(error.message);
  }
}
