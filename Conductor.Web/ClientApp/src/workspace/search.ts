import type { SearchMatch, SearchOptions } from "../api/contracts";

export interface FileMatches {
  path: string;
  matches: SearchMatch[];
}

/** Results grouped by file, in the Api's order (path order, then line). */
export function groupByFile(matches: readonly SearchMatch[]): FileMatches[] {
  const groups: FileMatches[] = [];
  const byPath = new Map<string, FileMatches>();
  for (const match of matches) {
    let group = byPath.get(match.file_path);
    if (!group) {
      group = { path: match.file_path, matches: [] };
      byPath.set(match.file_path, group);
      groups.push(group);
    }
    group.matches.push(match);
  }
  return groups;
}

export interface Segment {
  text: string;
  match: boolean;
}

/**
 * Splits a result line into plain and matching parts for highlighting. The Api sends the trimmed line (cut around
 * the match) and the match's column in the original line, so the match is found again here with the same options.
 */
export function highlight(content: string, options: Pick<SearchOptions, "q" | "regex" | "caseSensitive" | "wholeWord">): Segment[] {
  const pattern = toRegExp(options);
  if (!pattern) {
    return [{ text: content, match: false }];
  }
  const segments: Segment[] = [];
  let last = 0;
  for (const found of content.matchAll(pattern)) {
    const start = found.index ?? 0;
    const text = found[0];
    if (text.length === 0) {
      continue;
    }
    if (start > last) segments.push({ text: content.slice(last, start), match: false });
    segments.push({ text, match: true });
    last = start + text.length;
  }
  if (last < content.length) segments.push({ text: content.slice(last), match: false });
  return segments.length > 0 ? segments : [{ text: content, match: false }];
}

function toRegExp(options: Pick<SearchOptions, "q" | "regex" | "caseSensitive" | "wholeWord">): RegExp | null {
  if (!options.q) return null;
  const source = options.regex ? options.q : options.q.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const bounded = options.wholeWord ? `(?<![\\p{L}\\p{N}_])(?:${source})(?![\\p{L}\\p{N}_])` : source;
  try {
    return new RegExp(bounded, options.caseSensitive ? "gu" : "giu");
  } catch {
    return null; // .NET syntax the browser does not know: show the line without highlight
  }
}

/** "src/**, *.ts" → ["src/**", "*.ts"] */
export function parseGlobs(text: string): string[] {
  return text
    .split(",")
    .map((glob) => glob.trim())
    .filter((glob) => glob.length > 0);
}
