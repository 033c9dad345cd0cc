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
