import { decodeFileContent, type ConductorApi } from '../api/client';
import { ApiError, BackendUnreachableError } from '../api/errors';
import type { FileEntry } from '../api/types';

export type EntryKind = 'file' | 'directory' | 'symlink';

export interface EntryStat {
  readonly kind: EntryKind;
  readonly size: number;
  readonly mtime: number;
}

export type FsErrorKind = 'FileNotFound' | 'FileExists' | 'FileIsADirectory' | 'FileNotADirectory' | 'NoPermissions' | 'Unavailable' | 'Conflict';

/** A file-system failure in VS Code's vocabulary; the provider maps it onto `vscode.FileSystemError`. */
export class WorkspaceFsError extends Error {
  constructor(readonly kind: FsErrorKind, message: string) {
    super(message);
    this.name = 'WorkspaceFsError';
  }
}

/**
 * The `conductor://` file system's logic, without VS Code: paths inside one room's worktree, backed by the workspace
 * file API. Every read remembers the file's etag and every write sends it back (`If-Match`), so a write over
 * someone else's newer version is refused (a Conflict) instead of silently replacing it; a create that must not
 * overwrite sends `If-None-Match: *`.
 *
 * Git keeps no empty directories and the Api has no "make directory" call (a write creates the parents), so
 * `createDirectory` remembers the folder locally until a file is written into it.
 */
export class WorkspaceFiles {
  private readonly etags = new Map<string, string>();
  private readonly pendingDirectories = new Set<string>();

  constructor(private readonly api: ConductorApi) {}

  /** The etag this client last read or wrote for a path (undefined if never seen). */
  etagOf(roomId: string, path: string): string | undefined {
    return this.etags.get(key(roomId, path));
  }

  /** Forgets what we know of a path (someone else changed it: the next read fetches the new etag). */
  invalidate(roomId: string, path: string): void {
    this.etags.delete(key(roomId, path));
  }

  async stat(roomId: string, path: string): Promise<EntryStat> {
    const clean = normalize(path);
    if (clean === '' || this.pendingDirectories.has(key(roomId, clean))) {
      return { kind: 'directory', size: 0, mtime: 0 };
    }
    const entries = await this.list(roomId, parentOf(clean));
    const entry = entries.find(e => e.path === clean);
    if (!entry) {
      throw new WorkspaceFsError('FileNotFound', `${clean} does not exist in the room's workspace.`);
    }
    return toStat(entry);
  }

  async readDirectory(roomId: string, path: string): Promise<Array<[string, EntryKind]>> {
    const clean = normalize(path);
    if (this.pendingDirectories.has(key(roomId, clean))) {
      return [];
    }
    const entries = await this.list(roomId, clean);
    const result: Array<[string, EntryKind]> = entries.map(e => [nameOf(e.path), toStat(e).kind]);
    for (const pending of this.pendingDirectories) {
      const [room, dir] = splitKey(pending);
      if (room === roomId && parentOf(dir) === clean && !result.some(([name]) => name === nameOf(dir))) {
        result.push([nameOf(dir), 'directory']);
      }
    }
    return result;
  }

  async readFile(roomId: string, path: string): Promise<Uint8Array> {
    const clean = normalize(path);
    const file = await this.call(() => this.api.readFile(roomId, clean), clean);
    this.etags.set(key(roomId, clean), file.etag);
    return decodeFileContent(file);
  }

  /**
   * Writes with VS Code's flags: `create` false → the file must exist; `overwrite` false → it must not. An existing
   * file is written only at the version this client read (If-Match its etag).
   */
  async writeFile(roomId: string, path: string, content: Uint8Array, flags: { create: boolean; overwrite: boolean }): Promise<void> {
    const clean = normalize(path);
    let etag = this.etags.get(key(roomId, clean));
    if (etag === undefined) {
      const exists = await this.exists(roomId, clean);
      if (exists && !flags.overwrite) {
        throw new WorkspaceFsError('FileExists', `${clean} already exists.`);
      }
      if (!exists && !flags.create) {
        throw new WorkspaceFsError('FileNotFound', `${clean} does not exist.`);
      }
      if (exists) {
        // Overwrite requested for a file this client never read: take its current version as the base.
        etag = (await this.call(() => this.api.readFile(roomId, clean), clean)).etag;
      }
    } else if (!flags.overwrite) {
      throw new WorkspaceFsError('FileExists', `${clean} already exists.`);
    }
    const written = await this.call(
      () => this.api.writeFile(roomId, clean, content, etag === undefined ? { createOnly: true } : { ifMatch: etag }),
      clean,
    );
    this.etags.set(key(roomId, clean), written.etag);
    this.forgetPendingParents(roomId, clean);
  }

  async delete(roomId: string, path: string, recursive: boolean): Promise<void> {
    const clean = normalize(path);
    if (this.pendingDirectories.delete(key(roomId, clean))) {
      return;
    }
    const stat = await this.stat(roomId, clean);
    if (stat.kind === 'directory') {
      const entries = await this.list(roomId, clean, true);
      if (entries.length > 0 && !recursive) {
        throw new WorkspaceFsError('NoPermissions', `${clean} is not empty.`);
      }
      // Files first, deepest first; the Api deletes files only (git has no empty folders to keep).
      for (const entry of entries.filter(e => e.type !== 'dir').sort((a, b) => b.path.length - a.path.length)) {
        await this.call(() => this.api.deleteFile(roomId, entry.path), entry.path);
        this.etags.delete(key(roomId, entry.path));
      }
      return;
    }
    await this.call(() => this.api.deleteFile(roomId, clean, this.etags.get(key(roomId, clean))), clean);
    this.etags.delete(key(roomId, clean));
  }

  async rename(roomId: string, from: string, to: string, overwrite: boolean): Promise<void> {
    const source = normalize(from);
    const target = normalize(to);
    if (await this.exists(roomId, target)) {
      if (!overwrite) {
        throw new WorkspaceFsError('FileExists', `${target} already exists.`);
      }
      await this.delete(roomId, target, true);
    }
    await this.call(() => this.api.rename(roomId, source, target), source);
    const etag = this.etags.get(key(roomId, source));
    this.etags.delete(key(roomId, source));
    if (etag) {
      this.etags.set(key(roomId, target), etag);
    }
  }

  async createDirectory(roomId: string, path: string): Promise<void> {
    const clean = normalize(path);
    if (await this.exists(roomId, clean)) {
      throw new WorkspaceFsError('FileExists', `${clean} already exists.`);
    }
    this.pendingDirectories.add(key(roomId, clean));
  }

  private async exists(roomId: string, path: string): Promise<boolean> {
    try {
      await this.stat(roomId, path);
      return true;
    } catch (error) {
      if (error instanceof WorkspaceFsError && error.kind === 'FileNotFound') {
        return false;
      }
      throw error;
    }
  }

  private list(roomId: string, path: string, recursive = false): Promise<FileEntry[]> {
    return this.call(() => this.api.listFiles(roomId, path || undefined, recursive), path || '/');
  }

  private forgetPendingParents(roomId: string, path: string): void {
    for (let dir = parentOf(path); dir !== ''; dir = parentOf(dir)) {
      this.pendingDirectories.delete(key(roomId, dir));
    }
  }

  private async call<T>(operation: () => Promise<T>, path: string): Promise<T> {
    try {
      return await operation();
    } catch (error) {
      throw toFsError(error, path);
    }
  }
}

export function toFsError(error: unknown, path: string): Error {
  if (error instanceof WorkspaceFsError) {
    return error;
  }
  if (error instanceof BackendUnreachableError) {
    return new WorkspaceFsError('Unavailable', error.message);
  }
  if (error instanceof ApiError) {
    switch (error.status) {
      case 404:
        return new WorkspaceFsError('FileNotFound', error.detail ?? `${path} was not found.`);
      case 412:
        return new WorkspaceFsError('Conflict',
          `${path} was changed by someone else since you opened it. Your version was not saved: reopen the file (or compare) and apply your change again.`);
      case 409:
        return new WorkspaceFsError('FileExists', error.detail ?? `${path} already exists.`);
      case 401:
      case 403:
        return new WorkspaceFsError('NoPermissions', error.detail ?? error.title);
      case 400:
        if (/is a directory/.test(error.detail ?? '')) {
          return new WorkspaceFsError('FileIsADirectory', error.detail ?? `${path} is a directory.`);
        }
        if (/is a file, not a directory/.test(error.detail ?? '')) {
          return new WorkspaceFsError('FileNotADirectory', error.detail ?? `${path} is a file.`);
        }
        return new WorkspaceFsError('NoPermissions', error.message);
      default:
        return new WorkspaceFsError('Unavailable', error.message);
    }
  }
  return error instanceof Error ? error : new Error(String(error));
}

function toStat(entry: FileEntry): EntryStat {
  const kind: EntryKind = entry.type === 'dir' || entry.type === 'directory' ? 'directory' : entry.type === 'symlink' ? 'symlink' : 'file';
  return { kind, size: entry.size, mtime: Date.parse(entry.mtime) || 0 };
}

/** `/src/a.ts` → `src/a.ts`; the URI path is always absolute, the Api's paths are relative. */
export function normalize(path: string): string {
  return path.replace(/^\/+/, '').replace(/\/+$/, '');
}

export function parentOf(path: string): string {
  const index = path.lastIndexOf('/');
  return index < 0 ? '' : path.slice(0, index);
}

function nameOf(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

function key(roomId: string, path: string): string {
  return `${roomId}\u0000${path}`;
}

function splitKey(value: string): [string, string] {
  const index = value.indexOf('\u0000');
  return [value.slice(0, index), value.slice(index + 1)];
}
