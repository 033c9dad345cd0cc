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

/**
 * The save of `sent` (the file as it was when Save was pressed) was stored as `etag`. Applied to the file as it is
 * now: text typed while the save was on its way stays (and stays unsaved). A conflict goes only when this save settled
 * it: the version it knowingly replaced (overwrite), or its own version seen early through its echo; a version someone
 * else saved after it stays a conflict.
 */
export const saved = (file: OpenFile, sent: OpenFile, etag: string): OpenFile => ({
  ...file,
  etag,
  base: sent.text,
  conflictEtag: file.conflictEtag === etag || file.conflictEtag === sent.etag ? null : file.conflictEtag,
});

/**
 * A save was refused (412): someone else's version, `theirs`, is there; the text now in the editor is kept. (Unless
 * the editor already starts from that version: its echo showed it holds the very text being saved.)
 */
export const refused = (file: OpenFile, theirs: string): OpenFile => (theirs === file.etag ? file : { ...file, conflictEtag: theirs });

/**
 * The file was saved (a file_changed event, read again): `content` at `etag`. Every save is announced to the room,
 * the saver's own page included, and that echo can be read before the save's own answer arrives: when the server
 * holds the text the editor has, or the text of the save in flight (`saving`), nobody's work differs and only the
 * version the editor starts from moves. Otherwise, with no local edits the editor simply takes their version; with
 * local edits both are kept and the user decides.
 */
export function changedElsewhere(file: OpenFile, content: string, etag: string, saving: string | null = null): OpenFile {
  if (etag === file.etag) return file;
  if (content === file.text || content === saving) return { ...file, etag, base: content, conflictEtag: null };
  if (!isDirty(file)) return openFile(file.path, content, etag);
  return { ...file, conflictEtag: etag };
}

/** The user keeps their text and overwrites the other version (knowingly: the save names that version's etag). */
export const overwriteTheirs = (file: OpenFile): OpenFile =>
  file.conflictEtag ? { ...file, etag: file.conflictEtag, conflictEtag: null } : file;
