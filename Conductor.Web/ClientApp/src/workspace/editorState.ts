/** What the editor knows about the open file, and what a save or someone else's change does to it. */
export interface OpenFile {
  path: string;
  /** The version the user started from (null: a new file not saved yet). */
  etag: string | null;
  /** The text of that version. */
  base: string;
  /** The text in the editor now. */
  text: string;
  /** Someone else saved this file after we opened it: their etag (we must not overwrite it silently). */
  conflictEtag: string | null;
}

export const openFile = (path: string, content: string, etag: string | null): OpenFile =>
  ({ path, etag, base: content, text: content, conflictEtag: null });

export const isDirty = (file: OpenFile): boolean => file.text !== file.base;

export const edited = (file: OpenFile, text: string): OpenFile => ({ ...file, text });

export const saved = (file: OpenFile, etag: string): OpenFile => ({ ...file, etag, base: file.text, conflictEtag: null });

/**
 * Another member changed the file (a file_changed event, or a 412 on save). With no local edits the editor simply
 * takes their version; with local edits both are kept and the user decides.
 */
export function changedElsewhere(file: OpenFile, content: string, etag: string): OpenFile {
  if (etag === file.etag) return file;
  if (!isDirty(file)) return openFile(file.path, content, etag);
  return { ...file, conflictEtag: etag };
}

/** The user keeps their text and overwrites the other version (knowingly: the save names that version's etag). */
export const overwriteTheirs = (file: OpenFile): OpenFile =>
  file.conflictEtag ? { ...file, etag: file.conflictEtag, conflictEtag: null } : file;
