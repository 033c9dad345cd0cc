/** What happened to one proposed change in this review. */
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
