import type { Clock, ExclusiveLock, SessionStore, StoredSession } from "./session";

const storageKey = "conductor.session";

/**
 * The sign-in survives a reload and is shared by the origin's tabs (localStorage). The Api's tokens are bearer
 * tokens: nothing is kept in cookies, so no request is made with them by another site.
 */
export const localSessionStore: SessionStore = {
  load(): StoredSession | null {
    const text = localStorage.getItem(storageKey);
    if (!text) {
      return null;
    }
    try {
      const value = JSON.parse(text) as Partial<StoredSession>;
      return typeof value.accessToken === "string" && typeof value.refreshToken === "string" &&
        typeof value.expiresAt === "number" && value.user
        ? (value as StoredSession)
        : null;
    } catch {
      return null;
    }
  },
  save(session: StoredSession | null): void {
    if (session) {
      localStorage.setItem(storageKey, JSON.stringify(session));
    } else {
      localStorage.removeItem(storageKey);
    }
  },
};

export const sessionStorageKey = storageKey;

export const browserClock: Clock = {
  now: () => Date.now(),
  setTimeout: (callback, delayMs) => window.setTimeout(callback, Math.min(delayMs, 2_147_483_647)),
  clearTimeout: (handle) => window.clearTimeout(handle as number),
};

/** The Web Locks API where the browser has it (every current one on a secure or local origin); a no-op otherwise. */
export const browserLock: ExclusiveLock = <T>(name: string, action: () => Promise<T>): Promise<T> =>
  typeof navigator !== "undefined" && navigator.locks
    ? (navigator.locks.request(name, action) as Promise<T>)
    : action();
