/**
 * One folder of a `.code-workspace` file: `path` for a folder on the disk the workspace file is on (VS Code resolves
 * it against the file's own location, so it stays right in a remote or browser window), `uri` for any other scheme.
 */
export type WorkspaceFileFolder =
  | { readonly path: string; readonly name?: string }
  | { readonly uri: string; readonly name?: string };

/** The text of a `.code-workspace` file holding `folders`, in order (VS Code's documented multi-root format). */
export function workspaceFileContent(folders: readonly WorkspaceFileFolder[]): string {
  if (folders.length === 0) {
    throw new Error('A workspace file needs at least one folder.');
  }
  return JSON.stringify({ folders, settings: {} }, null, 2) + '\n';
}

/**
 * The folders a `.code-workspace` file lists (entries with neither a string `path` nor a string `uri` are left out);
 * empty when the text is not a JSON object with a `folders` array. Only for files this extension wrote (plain JSON).
 */
export function workspaceFileFolders(text: string): WorkspaceFileFolder[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return [];
  }
  if (typeof parsed !== 'object' || parsed === null || !Array.isArray((parsed as { folders?: unknown }).folders)) {
    return [];
  }
  const folders: WorkspaceFileFolder[] = [];
  for (const entry of (parsed as { folders: unknown[] }).folders) {
    if (typeof entry !== 'object' || entry === null) {
      continue;
    }
    const { path, uri, name } = entry as { path?: unknown; uri?: unknown; name?: unknown };
    const label = typeof name === 'string' ? { name } : {};
    if (typeof path === 'string') {
      folders.push({ path, ...label });
    } else if (typeof uri === 'string') {
      folders.push({ uri, ...label });
    }
  }
  return folders;
}
