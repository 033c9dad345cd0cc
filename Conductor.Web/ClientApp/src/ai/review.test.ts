import { describe, expect, it } from "vitest";
import type { Change } from "../api/contracts";
import { decisionOf, progress, proposedBy, reviewStatus, touchesReview } from "./review";

const change = (status: Change["status"], detail?: string): Change => ({
  id: "c1", file_path: "a.txt", type: "modify", content: "x", diff: "", rationale: "", status, detail,
});

describe("review", () => {
  it("reads the server's decision about a change, or none while it is pending", () => {
    expect(decisionOf(change("pending"))).toBeNull();
    expect(reviewStatus(decisionOf(change("applied"))!)).toBe("Applied.");
    expect(reviewStatus(decisionOf(change("skipped"))!)).toBe("Skipped.");
    expect(reviewStatus(decisionOf(change("refused", "the file changed since the change was generated"))!))
      .toBe("Not applied: the file changed since the change was generated.");
  });

  it("says who proposed a set and through what", () => {
    expect(proposedBy({ created_by_login: "alice", source: "mcp", agent: "mcp:claude-code", provider: "mcp", model: "1.0" }))
      .toBe("alice's coding agent (mcp:claude-code)");
    expect(proposedBy({ created_by_login: "bob", source: "ai", agent: "llm-v1", provider: "openai", model: "gpt-4o-mini" }))
      .toBe("bob's AI (openai gpt-4o-mini)");
  });

  it("counts what is left to decide, then how the set ended", () => {
    expect(progress({ changes: 2, pending: 1, applied: 1, skipped: 0, refused: 0 })).toBe("1 of 2 pending");
    expect(progress({ changes: 3, pending: 0, applied: 1, skipped: 1, refused: 1 })).toBe("1 applied, 1 skipped, 1 refused");
  });

  it("follows only the review's room events", () => {
    expect(touchesReview({ type: "change_set_proposed", room_id: "r" })).toBe(true);
    expect(touchesReview({ type: "change_reviewed", room_id: "r" })).toBe(true);
    expect(touchesReview({ type: "file_changed", room_id: "r" })).toBe(false);
  });
});
