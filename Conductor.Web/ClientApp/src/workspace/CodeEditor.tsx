import { forwardRef, useEffect, useImperativeHandle, useRef, useState } from "react";

type Monaco = typeof import("../ui/monaco")["monaco"];
type Editor = ReturnType<Monaco["editor"]["create"]>;

export interface CodeEditorHandle {
  focus(): void;
}

/** Where to put the cursor once the file is shown (a search result); `key` makes a repeat click count. */
export interface Reveal {
  line: number;
  column: number;
  key: number;
}

interface Props {
  path: string;
  text: string;
  onChange: (text: string) => void;
  readOnly: boolean;
  reveal: Reveal | null;
}

/** Monaco, loaded on first use; one model per open path, its language from the file's extension. */
export const CodeEditor = forwardRef<CodeEditorHandle, Props>(function CodeEditor({ path, text, onChange, readOnly, reveal }, ref) {
  const host = useRef<HTMLDivElement>(null);
  const editor = useRef<Editor | null>(null);
  const monaco = useRef<Monaco | null>(null);
  const revealed = useRef<number | null>(null);
  const onChangeRef = useRef(onChange);
  const [loaded, setLoaded] = useState(false);
  onChangeRef.current = onChange;

  useEffect(() => {
    let disposed = false;
    void import("../ui/monaco").then((module) => {
      if (disposed || !host.current) return;
      monaco.current = module.monaco;
      editor.current = module.monaco.editor.create(host.current, {
        automaticLayout: true,
        minimap: { enabled: false },
        fontSize: 13,
        scrollBeyondLastLine: false,
        ariaLabel: "Editor",
      });
      editor.current.onDidChangeModelContent(() => onChangeRef.current(editor.current?.getValue() ?? ""));
      setLoaded(true);
    });
    return () => {
      disposed = true;
      editor.current?.getModel()?.dispose();
      editor.current?.dispose();
      editor.current = null;
    };
  }, []);

  // A new path gets a new model; new text for the same path (someone else's save) replaces the content.
  useEffect(() => {
    const instance = editor.current;
    const api = monaco.current;
    if (!loaded || !instance || !api) return;
    const model = instance.getModel();
    const uri = api.Uri.from({ scheme: "workspace", path: "/" + path });
    if (!model || model.uri.toString() !== uri.toString()) {
      model?.dispose();
      const extension = path.includes(".") ? "." + path.split(".").pop()!.toLowerCase() : "";
      const language = api.languages.getLanguages().find((l) => l.extensions?.includes(extension))?.id ?? "plaintext";
      instance.setModel(api.editor.createModel(text, language, uri));
    } else if (model.getValue() !== text) {
      model.pushEditOperations([], [{ range: model.getFullModelRange(), text }], () => null);
    }
    if (reveal && revealed.current !== reveal.key) {
      revealed.current = reveal.key;
      instance.revealLineInCenter(reveal.line);
      instance.setPosition({ lineNumber: reveal.line, column: reveal.column });
      instance.focus();
    }
  }, [loaded, path, text, reveal]);

  useEffect(() => {
    editor.current?.updateOptions({ readOnly });
  }, [readOnly, loaded]);

  useImperativeHandle(ref, () => ({
    focus() {
      editor.current?.focus();
    },
  }));

  return <div className="code-editor" ref={host} data-path={path} />;
});
