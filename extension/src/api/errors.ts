/** An RFC 7807 problem answered by the Api, with the status and the most useful text for a person. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly title: string,
    readonly detail: string | undefined,
    readonly code: string | undefined,
  ) {
    super(detail ? `${title}: ${detail}` : title);
    this.name = 'ApiError';
  }

  /** 401 from a protected endpoint: the session is over (token expired and could not be refreshed, or revoked). */
  get isUnauthorized(): boolean {
    return this.status === 401;
  }
}

/** The Api could not be reached at all (refused, DNS, timeout): a different message from a refusal. */
export class BackendUnreachableError extends Error {
  constructor(readonly backendUrl: string, cause: unknown) {
    super(`The Conductor backend at ${backendUrl} is unreachable (${describe(cause)}). Check conductor.backendUrl and that the Api is running.`);
    this.name = 'BackendUnreachableError';
  }
}

/** No one is signed in (or the refresh token was revoked): the user must run Conductor: Sign In. */
export class NotSignedInError extends Error {
  constructor(message = 'Not signed in to Conductor. Run "Conductor: Sign In" first.') {
    super(message);
    this.name = 'NotSignedInError';
  }
}

function describe(cause: unknown): string {
  if (cause instanceof Error) {
    const inner = (cause as Error & { cause?: unknown }).cause;
    if (inner instanceof Error && inner.message) {
      return inner.message;
    }
    return cause.message;
  }
  return String(cause);
}

/** Turns any failure into a sentence for a notification: never a token, never a stack. */
export function describeError(error: unknown): string {
  if (error instanceof ApiError || error instanceof BackendUnreachableError || error instanceof NotSignedInError) {
    return error.message;
  }
  if (error instanceof Error) {
    return error.message;
  }
  return String(error);
}
