import type { ProblemDetails } from "./contracts";

/** An answer from the Api that is not a success: carries the problem's readable text. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly problem: ProblemDetails,
  ) {
    super(describeProblem(status, problem));
    this.name = "ApiError";
  }

  get code(): string | undefined {
    return this.problem.code ?? this.problem.error;
  }
}

/** The Api cannot be reached at all (network failure, or the proxy's 502/503/504 without a problem body). */
export class ApiUnavailableError extends Error {
  constructor(reason: string) {
    super(`The Conductor service is not reachable (${reason}).`);
    this.name = "ApiUnavailableError";
  }
}

export function describeProblem(status: number, problem: ProblemDetails): string {
  const validation = Array.isArray(problem.errors)
    ? problem.errors.join(" ")
    : problem.errors
      ? Object.values(problem.errors).flat().join(" ")
      : "";
  const text = problem.detail || validation || problem.title;
  return text ? text : `The request failed (HTTP ${status}).`;
}

export function isProblemDetails(value: unknown): value is ProblemDetails {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
