import { describe, expect, it } from "vitest";
import { changedElsewhere, edited, isDirty, openFile, overwriteTheirs, saved } from "./editorState";

describe("the open file", () => {
  it("takes someone else's version when it has no local edits", () => {
    const file = changedElsewhere(openFile("a.ts", "one", "e1"), "two", "e2");
    expect(file).toMatchObject({ text: "two", base: "two", etag: "e2", conflictEtag: null });
  });

  it("keeps local edits and records the conflict when someone else saved meanwhile", () => {
    const file = changedElsewhere(edited(openFile("a.ts", "one", "e1"), "mine"), "theirs", "e2");
    expect(file).toMatchObject({ text: "mine", etag: "e1", conflictEtag: "e2" });
    expect(isDirty(file)).toBe(true);
  });

  it("ignores the echo of its own save", () => {
    const file = saved(edited(openFile("a.ts", "one", "e1"), "two"), "e2");
    expect(changedElsewhere(file, "two", "e2")).toBe(file);
    expect(isDirty(file)).toBe(false);
  });

  it("overwrites only by naming the version it replaces", () => {
    const conflicted = changedElsewhere(edited(openFile("a.ts", "one", "e1"), "mine"), "theirs", "e2");
    expect(overwriteTheirs(conflicted)).toMatchObject({ etag: "e2", conflictEtag: null, text: "mine" });
  });
});
