import { useEffect, useRef, useState, type FormEvent } from "react";
import type { SearchMatch, SearchOptions, WorktreeChoice } from "../api/contracts";
import { ErrorText } from "../ui/ErrorText";
import { useServices } from "../ui/services";
import { groupByFile, highlight, parseGlobs } from "./search";

interface Props {
  roomId: string;
  /** The worktree searched: the room's (default) or the member's own. */
  worktree?: WorktreeChoice;
  onOpen: (path: string, line: number, column: number) => void;
}

export function SearchPanel({ roomId, worktree = "room", onOpen }: Props) {
  const { api } = useServices();
  const [q, setQ] = useState("");
  const [regex, setRegex] = useState(false);
  const [caseSensitive, setCaseSensitive] = useState(false);
  const [wholeWord, setWholeWord] = useState(false);
  const [include, setInclude] = useState("");
  const [exclude, setExclude] = useState("");
  const [results, setResults] = useState<{ options: SearchOptions; matches: SearchMatch[] } | null>(null);
  const [error, setError] = useState<unknown>(null);
  const input = useRef<HTMLInputElement>(null);

  // Ctrl+Shift+F focuses the search box, as in VS Code.
  useEffect(() => {
    const onKey = (event: KeyboardEvent) => {
      if (event.ctrlKey && event.shiftKey && event.key.toLowerCase() === "f") {
        event.preventDefault();
        input.current?.focus();
        input.current?.select();
      }
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, []);

  const search = async (event: FormEvent) => {
    event.preventDefault();
    setError(null);
    const options: SearchOptions = { q, regex, caseSensitive, wholeWord, include: parseGlobs(include), exclude: parseGlobs(exclude) };
    try {
      setResults({ options, matches: await api.search(roomId, options, undefined, worktree) });
    } catch (failure) {
      setResults(null);
      setError(failure);
    }
  };

  const groups = results ? groupByFile(results.matches) : [];
  return (
    <div className="search">
      <form onSubmit={(event) => void search(event)}>
        <label htmlFor="search-text">Search</label>
        <div className="search-row">
          <input id="search-text" ref={input} value={q} onChange={(event) => setQ(event.target.value)} required />
          <button type="submit">Find</button>
        </div>
        <div className="search-options">
          <label className="checkbox">
            <input type="checkbox" checked={regex} onChange={(event) => setRegex(event.target.checked)} />
            Regex
          </label>
          <label className="checkbox">
            <input type="checkbox" checked={caseSensitive} onChange={(event) => setCaseSensitive(event.target.checked)} />
            Match case
          </label>
          <label className="checkbox">
            <input type="checkbox" checked={wholeWord} onChange={(event) => setWholeWord(event.target.checked)} />
            Whole word
          </label>
        </div>
        <label htmlFor="search-include">Files to include</label>
        <input id="search-include" value={include} onChange={(event) => setInclude(event.target.value)} placeholder="src/**, *.ts" />
        <label htmlFor="search-exclude">Files to exclude</label>
        <input id="search-exclude" value={exclude} onChange={(event) => setExclude(event.target.value)} placeholder="node_modules" />
      </form>
      <ErrorText error={error} />
      {results && (
        <div className="search-results" aria-label="Search results" role="region">
          <p className="hint">
            {results.matches.length} {results.matches.length === 1 ? "result" : "results"} in {groups.length} {groups.length === 1 ? "file" : "files"}
          </p>
          {groups.map((group) => (
            <div key={group.path} className="search-file">
              <h4>{group.path}</h4>
              <ul>
                {group.matches.map((match) => (
                  <li key={`${match.line}:${match.column}`}>
                    <button type="button" className="search-hit" onClick={() => onOpen(match.file_path, match.line, match.column)}>
                      <span className="line-number">{match.line}</span>
                      <span className="line-text">
                        {highlight(match.content, results.options).map((segment, index) =>
                          segment.match ? <mark key={index}>{segment.text}</mark> : <span key={index}>{segment.text}</span>,
                        )}
                      </span>
                    </button>
                  </li>
                ))}
              </ul>
            </div>
          ))}
        </div>
      )}
    </div>
  );
}
