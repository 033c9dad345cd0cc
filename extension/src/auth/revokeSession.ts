import { ApiError } from '../api/errors';

/**
 * What signing out achieved: every Api instance now refuses the session (`shared`), only the one that answered does
 * (`not-shared`: it could not tell the others through Redis, so they accept the old access token until it expires),
 * or the Api could not be reached (`unreachable`: the refresh token still expires on its own).
 */
export type RevokeOutcome = 'shared' | 'not-shared' | 'unreachable';

/**
 * Ends the session at the Api. A `503 sign_out_not_shared` is retried after each of `delays` (ms): the Api has already
 * revoked the session in Postgres and refuses it itself, and a retry once Redis is back tells every instance.
 * The web app and the extension share no package, so each has this function (Conductor.Web/ClientApp/src/auth/revokeSession.ts is the other).
 */
export async function revokeSession(
  revoke: (refreshToken: string) => Promise<void>,
  refreshToken: string,
  delays: readonly number[] = [500, 1000, 2000],
  sleep: (ms: number) => Promise<void> = ms => new Promise(resolve => setTimeout(resolve, ms)),
): Promise<RevokeOutcome> {
  for (let attempt = 0; ; attempt++) {
    try {
      await revoke(refreshToken);
      return 'shared';
    } catch (failure) {
      if (!(failure instanceof ApiError)) {
        return 'unreachable';
      }
      if (failure.code !== 'sign_out_not_shared') {
        // Refused for another reason (an expired or already revoked refresh token): nothing is left to end.
        return 'shared';
      }
      if (attempt >= delays.length) {
        return 'not-shared';
      }
      await sleep(delays[attempt] ?? 0);
    }
  }
}
