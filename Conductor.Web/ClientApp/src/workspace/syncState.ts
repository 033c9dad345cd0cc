import type { PersonalWorktree, PublishResult, SyncConflict, SyncResult } from "../api/contracts";
import { ApiError } from "../api/errors";

/** What the "My worktree" panel says about the member's own worktree against the room's branch. */
export function describeWorktree(state: PersonalWorktree): string {
  const parts: string[] = [];
  parts.push(state.changed_files === 0 ? "no uncommitted changes" : `${state.changed_files} changed file${state.changed_files === 1 ? "" : "s"}`);
  if (state.ahead > 0) parts.push(`${state.ahead} commit${state.ahead === 1 ? "" : "s"} not in the room yet`);
  if (state.behind > 0) parts.push(`${state.behind} new in the room`);
  return `${state.branch}: ${parts.join(", ")}.`;
}

/** Whether there is anything for Sync to do (the button is still allowed; the answer would be "up to date"). */
export function hasWorkToSync(state: PersonalWorktree): boolean {
  return state.changed_files > 0 || state.ahead > 0 || state.behind > 0;
}

export function describeSync(result: SyncResult): string {
  switch (result.status) {
    case "up_to_date":
      return `Nothing new to merge; ${result.branch} is at ${result.head_commit.slice(0, 12)}.`;
    case "fast_forward":
      return `${result.branch} moved forward to your work (${result.head_commit.slice(0, 12)}).`;
    default:
      return `Merged your work into ${result.branch} (${result.base_commit.slice(0, 12)} → ${result.head_commit.slice(0, 12)}).`;
  }
}

export function describePublish(result: PublishResult): string {
  return `${describeSync(result.sync)} ${result.pushed ? "Pushed to origin." : `Not pushed: ${result.push_error ?? "unknown reason"}.`}`;
}

/** The conflicts of a refused sync (409 with code `sync_conflicts`), or null for any other failure. */
export function syncConflicts(error: unknown): SyncConflict[] | null {
  if (!(error instanceof ApiError) || error.status !== 409 || error.code !== "sync_conflicts") return null;
  const conflicts = (error.problem as { conflicts?: unknown }).conflicts;
  return Array.isArray(conflicts) ? conflicts.filter(isConflict) : [];
}

export function describeConflict(conflict: SyncConflict): string {
  if (conflict.kind === "worktree") {
    return `${conflict.path}: the room's worktree has unsaved-to-git edits to this file; commit them in the room first.`;
  }
  if (conflict.ours === null && conflict.theirs !== null) return `${conflict.path}: deleted in the room, changed by you.`;
  if (conflict.theirs === null && conflict.ours !== null) return `${conflict.path}: changed in the room, deleted by you.`;
  return `${conflict.path}: changed in the room and by you${conflict.binary ? " (binary)" : ""}.`;
}

function isConflict(value: unknown): value is SyncConflict {
  return typeof value === "object" && value !== null && typeof (value as { path?: unknown }).path === "string";
}
