// Monaco from the npm package, bundled by Vite (no CDN). Its workers are bundled too, as module workers.
import * as monaco from "monaco-editor/esm/vs/editor/editor.api";
import "monaco-editor/esm/vs/basic-languages/monaco.contribution";
import EditorWorker from "monaco-editor/esm/vs/editor/editor.worker?worker";

self.MonacoEnvironment = {
  getWorker: () => new EditorWorker(),
};

/** HTML with spans per token; Monaco escapes the code itself. */
export function colorize(code: string, language: string): Promise<string> {
  return monaco.editor.colorize(code, language, { tabSize: 4 });
}

export { monaco };
