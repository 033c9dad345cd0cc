import type { ApplyResult, Change, ChangeSetSummary, RoomEvent } from "../api/contracts";

/** What happened to one proposed change in review. */
export type Decision = { kind: "applied" } | { kind: "skipped" } | { kind: "conflict"; detail: string };

export function reviewStatus(decision: Decision): string {
  switch (decision.kind) {
    case "applied":
      return "Applied.";
    case "skipped":
      return "Skipped.";
    case "conflict":
      return `Not applied: ${decision.detail}.`;
  }
}

/** The decision the server holds for a change (whoever made it), or null while it is pending. */
export function decisionOf(change: Change): Decision | null {
  switch (change.status) {
    case "applied":
      return { kind: "applied" };
    case "skipped":
      return { kind: "skipped" };
    case "refused":
      return { kind: "conflict", detail: change.detail ?? "refused" };
    default:
      return null;
  }
}

export function fromResult(result: ApplyResult): Decision {
  return result.outcome === "applied" ? { kind: "applied" } : { kind: "conflict", detail: result.detail ?? "refused" };
}

/** "by alice's coding agent (mcp:claude-code)" or "by bob's AI (openai gpt-4o-mini)". */
export function proposedBy(set: Pick<ChangeSetSummary, "created_by_login" | "source" | "agent" | "provider" | "model">): string {
  return set.source === "mcp"
    ? `${set.created_by_login}'s coding agent (${set.agent})`
    : `${set.created_by_login}'s AI (${set.provider} ${set.model})`;
}

/** "1 of 2 pending", or how the decided set ended. */
export function progress(set: Pick<ChangeSetSummary, "changes" | "pending" | "applied" | "skipped" | "refused">): string {
  if (set.pending > 0) return `${set.pending} of ${set.changes} pending`;
  const parts = [
    set.applied > 0 ? `${set.applied} applied` : "",
    set.skipped > 0 ? `${set.skipped} skipped` : "",
    set.refused > 0 ? `${set.refused} refused` : "",
  ].filter(Boolean);
  return parts.join(", ");
}

/** Whether a room event changes what the review lists show. */
export function touchesReview(event: RoomEvent): boolean {
  return event.type === "change_set_proposed" || event.type === "change_reviewed";
}
