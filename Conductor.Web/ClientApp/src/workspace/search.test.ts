import { describe, expect, it } from "vitest";
import { groupByFile, highlight, parseGlobs } from "./search";

const base = { regex: false, caseSensitive: false, wholeWord: false };

describe("search results", () => {
  it("are grouped by file in the order the Api sent them", () => {
    const groups = groupByFile([
      { file_path: "a.ts", line: 1, column: 1, content: "x" },
      { file_path: "a.ts", line: 9, column: 1, content: "x" },
      { file_path: "b.ts", line: 2, column: 1, content: "x" },
    ]);
    expect(groups.map((g) => [g.path, g.matches.map((m) => m.line)])).toEqual([["a.ts", [1, 9]], ["b.ts", [2]]]);
  });

  it("highlight every occurrence of a literal, ignoring case unless asked", () => {
    expect(highlight("Foo and foo", { ...base, q: "foo" })).toEqual([
      { text: "Foo", match: true }, { text: " and ", match: false }, { text: "foo", match: true },
    ]);
    expect(highlight("Foo and foo", { ...base, q: "foo", caseSensitive: true }).filter((s) => s.match).map((s) => s.text)).toEqual(["foo"]);
  });

  it("treat regex characters literally unless regex is on", () => {
    expect(highlight("a.b axb", { ...base, q: "a.b" }).filter((s) => s.match).map((s) => s.text)).toEqual(["a.b"]);
    expect(highlight("a.b axb", { ...base, q: "a.b", regex: true }).filter((s) => s.match).map((s) => s.text)).toEqual(["a.b", "axb"]);
  });

  it("match whole words only when asked", () => {
    expect(highlight("spin spinning spin_lock", { ...base, q: "spin", wholeWord: true }).filter((s) => s.match)).toHaveLength(1);
  });

  it("split include and exclude globs on commas", () => {
    expect(parseGlobs(" src/**, *.ts ,,")).toEqual(["src/**", "*.ts"]);
  });
});
