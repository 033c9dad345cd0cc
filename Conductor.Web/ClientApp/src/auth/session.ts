import type { TokenResponse, UserInfo } from "../api/contracts";
import { ApiError } from "../api/errors";

/** What the browser keeps of a sign-in. The access token lives 15 minutes; the refresh token is single-use. */
export interface StoredSession {
  accessToken: string;
  refreshToken: string;
  /** Milliseconds since the epoch. */
  expiresAt: number;
  /** When the access token was obtained (ms since the epoch): a short-lived token refreshes at half its life. */
  issuedAt?: number;
  user: UserInfo;
}

export interface SessionStore {
  load(): StoredSession | null;
  save(session: StoredSession | null): void;
}

export interface Clock {
  now(): number;
  setTimeout(callback: () => void, delayMs: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** Runs `action` while holding a lock shared by every tab of the origin (the Web Locks API in a browser). */
export type ExclusiveLock = <T>(name: string, action: () => Promise<T>) => Promise<T>;

export type RefreshCall = (refreshToken: string) => Promise<TokenResponse>;

export type SessionListener = (session: StoredSession | null, reason: SignOutReason | null) => void;

/** Why the sign-in ended: signed out, refresh refused (`expired`), or signed out on one Api instance only (`not_shared`). */
export type SignOutReason = "signed_out" | "expired" | "not_shared";

export function sessionFromTokens(tokens: TokenResponse, now: number): StoredSession {
  return {
    accessToken: tokens.access_token,
    refreshToken: tokens.refresh_token,
    expiresAt: now + tokens.expires_in * 1000,
    issuedAt: now,
    user: tokens.user,
  };
}

/**
 * Keeps the access token fresh: refreshed `marginMs` before it expires (on a timer, and on demand when a request
 * finds it about to expire), one refresh at a time across every tab. Refresh tokens rotate and a token presented
 * twice revokes the whole sign-in, so a tab takes the shared lock, re-reads storage, and adopts a token another tab
 * already obtained instead of presenting the spent one again.
 */
export class SessionManager {
  private current: StoredSession | null;
  private inFlight: Promise<StoredSession | null> | null = null;
  private timer: unknown = null;
  private readonly listeners = new Set<SessionListener>();

  constructor(
    private readonly store: SessionStore,
    private readonly refreshCall: RefreshCall,
    private readonly clock: Clock,
    private readonly lock: ExclusiveLock,
    private readonly marginMs = 60_000,
  ) {
    this.current = store.load();
    this.schedule();
  }

  get session(): StoredSession | null {
    return this.current;
  }

  subscribe(listener: SessionListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  signIn(tokens: TokenResponse): StoredSession {
    const session = sessionFromTokens(tokens, this.clock.now());
    this.store.save(session);
    this.replace(session, null);
    return session;
  }

  /** Forgets the sign-in locally; answers the refresh token so the caller can revoke it at the Api. */
  signOut(reason: SignOutReason = "signed_out"): string | null {
    const refreshToken = this.current?.refreshToken ?? null;
    this.store.save(null);
    this.replace(null, reason);
    return refreshToken;
  }

  /** Another tab changed storage: follow it (signed in elsewhere, refreshed, or signed out). */
  reload(): void {
    const stored = this.store.load();
    if (stored?.refreshToken !== this.current?.refreshToken) {
      this.replace(stored, stored ? null : "signed_out");
    }
  }

  /** An access token valid for at least the margin, refreshing first when needed; null when signed out. */
  async accessToken(): Promise<string | null> {
    const session = this.current;
    if (!session) {
      return null;
    }
    if (session.expiresAt - this.clock.now() > this.margin(session)) {
      return session.accessToken;
    }
    return (await this.refresh())?.accessToken ?? null;
  }

  /** Refreshes now (one refresh at a time); resolves to the new session, or null when the sign-in has ended. */
  refresh(): Promise<StoredSession | null> {
    this.inFlight ??= this.refreshUnderLock().finally(() => {
      this.inFlight = null;
    });
    return this.inFlight;
  }

  private async refreshUnderLock(): Promise<StoredSession | null> {
    const spent = this.current?.refreshToken;
    if (!spent) {
      return null;
    }
    return this.lock("conductor-token-refresh", async () => {
      const stored = this.store.load();
      if (!stored) {
        this.replace(null, "signed_out");
        return null;
      }
      if (stored.refreshToken !== spent && stored.expiresAt - this.clock.now() > this.margin(stored)) {
        this.replace(stored, null);
        return stored;
      }
      try {
        const tokens = await this.refreshCall(stored.refreshToken);
        const session = sessionFromTokens(tokens, this.clock.now());
        this.store.save(session);
        this.replace(session, null);
        return session;
      } catch (error) {
        if (error instanceof ApiError && error.status === 401) {
          // invalid, expired, revoked or reused: this sign-in is over.
          this.store.save(null);
          this.replace(null, "expired");
          return null;
        }
        throw error; // the Api is unreachable: keep the session and let the caller retry
      }
    });
  }

  /** The configured margin, but at most half the token's life: a 20 s token is refreshed after 10 s, not at once in a loop. */
  private margin(session: StoredSession): number {
    const lifetime = session.issuedAt === undefined ? Infinity : session.expiresAt - session.issuedAt;
    return Math.min(this.marginMs, lifetime / 2);
  }

  private replace(session: StoredSession | null, reason: SignOutReason | null): void {
    this.current = session;
    this.schedule();
    for (const listener of this.listeners) {
      listener(session, reason);
    }
  }

  private schedule(): void {
    if (this.timer !== null) {
      this.clock.clearTimeout(this.timer);
      this.timer = null;
    }
    if (!this.current) {
      return;
    }
    const delay = Math.max(0, this.current.expiresAt - this.margin(this.current) - this.clock.now());
    this.timer = this.clock.setTimeout(() => {
      this.timer = null;
      // A failed refresh (Api down) is retried when the next request asks for a token.
      this.refresh().catch(() => undefined);
    }, delay);
  }
}
