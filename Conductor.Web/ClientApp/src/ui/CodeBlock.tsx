import { useEffect, useState } from "react";

/**
 * Code with syntax colour from Monaco's own tokenizers (monaco.editor.colorize), loaded on first use so the app's
 * first load does not pay for the editor. Until then, and if it fails, the code shows plain.
 */
export function CodeBlock({ code, language }: { code: string; language: string }) {
  const [html, setHtml] = useState<string | null>(null);
  useEffect(() => {
    let live = true;
    import("./monaco")
      .then(({ colorize }) => colorize(code, language))
      .then((result) => {
        if (live) setHtml(result);
      })
      .catch(() => undefined);
    return () => {
      live = false;
    };
  }, [code, language]);
  return (
    <pre className="code-block" data-language={language}>
      {html === null ? <code>{code}</code> : <code dangerouslySetInnerHTML={{ __html: html }} />}
    </pre>
  );
}
