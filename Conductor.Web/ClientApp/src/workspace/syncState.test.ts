import { describe, expect, it } from "vitest";
import type { PersonalWorktree, SyncResult } from "../api/contracts";
import { ApiError } from "../api/errors";
import { worktreeQuery } from "../api/client";
import { describeConflict, describePublish, describeSync, describeWorktree, hasWorkToSync, syncConflicts } from "./syncState";

const worktree: PersonalWorktree = {
  room_id: "r",
  login: "alice",
  branch: "session/r-alice",
  room_branch: "session/r",
  head_commit: "a".repeat(40),
  room_commit: "b".repeat(40),
  ahead: 0,
  behind: 0,
  changed_files: 0,
};

const synced: SyncResult = {
  room_id: "r",
  login: "alice",
  status: "merged",
  branch: "session/r",
  member_branch: "session/r-alice",
  committed: "c".repeat(40),
  base_commit: "1234567890abcdef".padEnd(40, "0"),
  head_commit: "fedcba0987654321".padEnd(40, "0"),
};

describe("my worktree", () => {
  it("says a clean worktree in step with the room has nothing to sync", () => {
    expect(describeWorktree(worktree)).toBe("session/r-alice: no uncommitted changes.");
    expect(hasWorkToSync(worktree)).toBe(false);
  });

  it("counts changed files and commits on either side", () => {
    const busy = { ...worktree, changed_files: 2, ahead: 1, behind: 3 };
    expect(describeWorktree(busy)).toBe("session/r-alice: 2 changed files, 1 commit not in the room yet, 3 new in the room.");
    expect(hasWorkToSync(busy)).toBe(true);
  });

  it("asks the Api for the member's own worktree only when chosen", () => {
    expect(worktreeQuery("me")).toBe("&worktree=me");
    expect(worktreeQuery("room")).toBe("");
  });
});

describe("sync results", () => {
  it("describes a merge, a fast-forward and nothing to do", () => {
    expect(describeSync(synced)).toBe("Merged your work into session/r (1234567890ab → fedcba098765).");
    expect(describeSync({ ...synced, status: "fast_forward" })).toBe("session/r moved forward to your work (fedcba098765).");
    expect(describeSync({ ...synced, status: "up_to_date" })).toBe("Nothing new to merge; session/r is at fedcba098765.");
  });

  it("says whether publish pushed", () => {
    expect(describePublish({ sync: synced, pushed: true, push_error: null })).toMatch(/Pushed to origin\.$/);
    expect(describePublish({ sync: synced, pushed: false, push_error: "rejected (non-fast-forward)" })).toMatch(/Not pushed: rejected \(non-fast-forward\)\.$/);
  });

  it("reads the conflicts of a refused sync and nothing from other failures", () => {
    const problem = {
      title: "Sync conflicts",
      status: 409,
      code: "sync_conflicts",
      conflicts: [
        { path: "README.md", kind: "content", base: "a\n", ours: "b\n", theirs: "c\n", binary: false, truncated: false },
        { path: "gone.txt", kind: "content", base: "a\n", ours: null, theirs: "c\n", binary: false, truncated: false },
        { path: "draft.md", kind: "worktree", base: "a\n", ours: "x\n", theirs: "y\n", binary: false, truncated: false },
      ],
    };
    const conflicts = syncConflicts(new ApiError(409, problem));
    expect(conflicts?.map(describeConflict)).toEqual([
      "README.md: changed in the room and by you.",
      "gone.txt: deleted in the room, changed by you.",
      "draft.md: the room's worktree has unsaved-to-git edits to this file; commit them in the room first.",
    ]);
    expect(syncConflicts(new ApiError(409, { title: "Workspace not ready", code: "x" }))).toBeNull();
    expect(syncConflicts(new Error("offline"))).toBeNull();
  });
});
