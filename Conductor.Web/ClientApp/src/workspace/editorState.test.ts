import { describe, expect, it } from "vitest";
import { changedElsewhere, edited, isDirty, openFile, overwriteTheirs, refused, saved } from "./editorState";

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

  it("ignores the echo of its own save once the save's answer is in", () => {
    const sent = edited(openFile("a.ts", "one", "e1"), "two");
    const file = saved(sent, sent, "e2");
    expect(changedElsewhere(file, "two", "e2")).toBe(file);
    expect(isDirty(file)).toBe(false);
  });

  // WorkspaceJourneyTests' flake: the page applied the echo to the file as it was before the save's answer.
  it("takes the echo of its own save, read before the save's answer, for no conflict", () => {
    const sent = edited(openFile("a.ts", "one", "e1"), "two");
    const echoed = changedElsewhere(sent, "two", "e2", "two");
    expect(echoed).toMatchObject({ text: "two", base: "two", etag: "e2", conflictEtag: null });
    expect(saved(echoed, sent, "e2")).toMatchObject({ text: "two", base: "two", etag: "e2", conflictEtag: null });
  });

  it("keeps what was typed while the save was on its way, and its echo is no conflict either", () => {
    const sent = edited(openFile("a.ts", "one", "e1"), "two");
    const typedOn = edited(sent, "two and more");
    const echoed = changedElsewhere(typedOn, "two", "e2", "two");
    expect(echoed).toMatchObject({ text: "two and more", base: "two", etag: "e2", conflictEtag: null });
    const answered = saved(typedOn, sent, "e2");
    expect(answered).toMatchObject({ text: "two and more", base: "two", etag: "e2", conflictEtag: null });
    expect(isDirty(answered)).toBe(true);
  });

  it("still sees someone else's later save as a conflict while its own save is on its way", () => {
    const sent = edited(openFile("a.ts", "one", "e1"), "two");
    const theirs = changedElsewhere(sent, "three", "e3", "two");
    expect(theirs).toMatchObject({ text: "two", conflictEtag: "e3" });
    // Its own save then answers: the later version stays a conflict, never overwritten silently.
    expect(saved(theirs, sent, "e2")).toMatchObject({ text: "two", etag: "e2", conflictEtag: "e3" });
  });

  it("takes someone else's save of the very text it has for no conflict", () => {
    const file = changedElsewhere(edited(openFile("a.ts", "one", "e1"), "same"), "same", "e2");
    expect(file).toMatchObject({ text: "same", base: "same", etag: "e2", conflictEtag: null });
    expect(isDirty(file)).toBe(false);
  });

  it("records a refused save as a conflict with the version that is there", () => {
    const file = refused(edited(openFile("a.ts", "one", "e1"), "mine"), "e2");
    expect(file).toMatchObject({ text: "mine", etag: "e1", conflictEtag: "e2" });
  });

  it("overwrites only by naming the version it replaces, and that save settles the conflict", () => {
    const conflicted = changedElsewhere(edited(openFile("a.ts", "one", "e1"), "mine"), "theirs", "e2");
    const overwrite = overwriteTheirs(conflicted);
    expect(overwrite).toMatchObject({ etag: "e2", conflictEtag: null, text: "mine" });
    expect(saved(conflicted, overwrite, "e3")).toMatchObject({ etag: "e3", base: "mine", conflictEtag: null });
  });
});
