import { useEffect, useRef } from "react";

type Monaco = typeof import("../ui/monaco")["monaco"];

/** Monaco's side-by-side diff editor (read-only): the file as it is on the left, the proposed change on the right. */
export function DiffView({ path, original, modified }: { path: string; original: string; modified: string }) {
  const host = useRef<HTMLDivElement>(null);
  useEffect(() => {
    let disposed = false;
    let cleanup = () => {};
    void import("../ui/monaco").then(({ monaco }: { monaco: Monaco }) => {
      if (disposed || !host.current) return;
      const extension = path.includes(".") ? "." + path.split(".").pop()!.toLowerCase() : "";
      const language = monaco.languages.getLanguages().find((l) => l.extensions?.includes(extension))?.id ?? "plaintext";
      const left = monaco.editor.createModel(original, language);
      const right = monaco.editor.createModel(modified, language);
      const editor = monaco.editor.createDiffEditor(host.current, {
        readOnly: true,
        automaticLayout: true,
        renderSideBySide: true,
        minimap: { enabled: false },
        scrollBeyondLastLine: false,
        fontSize: 12,
      });
      editor.setModel({ original: left, modified: right });
      cleanup = () => {
        editor.dispose();
        left.dispose();
        right.dispose();
      };
    });
    return () => {
      disposed = true;
      cleanup();
    };
  }, [path, original, modified]);
  return <div className="diff-view" ref={host} aria-label={`Diff of ${path}`} role="region" />;
}
