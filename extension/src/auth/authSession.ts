import type { ConductorApi } from '../api/client';
import { ApiError, NotSignedInError } from '../api/errors';
import type { TokenResponse, UserSummary } from '../api/types';
import { revokeSession, type RevokeOutcome } from './revokeSession';

/** The subset of VS Code's SecretStorage the session needs (so tests can give it a real in-memory store). */
export interface SecretStore {
  get(key: string): PromiseLike<string | undefined>;
  store(key: string, value: string): PromiseLike<void>;
  delete(key: string): PromiseLike<void>;
}

export interface StoredSession {
  readonly accessToken: string;
  readonly refreshToken: string;
  /** Epoch milliseconds when the access token stops being accepted. */
  readonly expiresAt: number;
  readonly user: UserSummary;
}

/** Refresh this long before the access token expires (the Api gives 15 minutes). */
export const RefreshMargin = 60_000;

export type SessionEndReason = 'signed-out' | 'revoked';

/**
 * Tokens in SecretStorage (never settings, never logs), keyed by backend URL. The access token is refreshed before
 * it expires, both on a timer and on demand; concurrent callers share one refresh (a second use of a refresh token is
 * reuse, which revokes the family, unless the Api can take it for a retry after a lost answer: within
 * Auth:RefreshRetryWindow, as when a window reload cut a refresh off and the new extension host starts from the
 * token stored before it).
 */
export class AuthSession {
  private session: StoredSession | undefined;
  private refreshing: Promise<StoredSession> | undefined;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private readonly endListeners = new Set<(reason: SessionEndReason) => void>();

  constructor(
    private readonly api: ConductorApi,
    private readonly secrets: SecretStore,
    private readonly now: () => number = Date.now,
  ) {}

  private get key(): string {
    return `conductor.session:${this.api.baseUrl}`;
  }

  get user(): UserSummary | undefined {
    return this.session?.user;
  }

  get isSignedIn(): boolean {
    return this.session !== undefined;
  }

  /** Loads a session kept from an earlier run (and schedules its refresh). */
  async restore(): Promise<UserSummary | undefined> {
    const text = await this.secrets.get(this.key);
    if (!text) {
      return undefined;
    }
    try {
      this.session = JSON.parse(text) as StoredSession;
    } catch {
      await this.secrets.delete(this.key);
      return undefined;
    }
    this.schedule();
    return this.session.user;
  }

  async signIn(tokens: TokenResponse): Promise<UserSummary> {
    await this.save(tokens);
    return tokens.user;
  }

  /**
   * Forgets the session, then revokes the refresh token's family on the Api (sign-out everywhere this session reached);
   * answers whether every Api instance now refuses it (see {@link revokeSession}).
   */
  async signOut(): Promise<RevokeOutcome> {
    const session = this.session;
    await this.forget('signed-out');
    return session ? revokeSession(token => this.api.revoke(token), session.refreshToken) : 'shared';
  }

  /** A valid access token: refreshed first when it expires within {@link RefreshMargin}. */
  readonly accessToken = async (): Promise<string> => {
    const session = this.session;
    if (!session) {
      throw new NotSignedInError();
    }
    if (session.expiresAt - this.now() > RefreshMargin) {
      return session.accessToken;
    }
    return (await this.refresh()).accessToken;
  };

  /** Rotates the refresh token. A refusal (revoked, reused, expired) ends the session with a clear reason. */
  refresh(): Promise<StoredSession> {
    if (this.refreshing) {
      return this.refreshing;
    }
    const session = this.session;
    if (!session) {
      return Promise.reject(new NotSignedInError());
    }
    this.refreshing = (async () => {
      try {
        return await this.save(await this.api.refresh(session.refreshToken));
      } catch (error) {
        if (error instanceof ApiError && error.status === 401) {
          await this.forget('revoked');
          throw new NotSignedInError(`Your Conductor session ended (${error.code ?? 'revoked'}). Run "Conductor: Sign In" again.`);
        }
        throw error;
      } finally {
        this.refreshing = undefined;
      }
    })();
    return this.refreshing;
  }

  onDidEnd(listener: (reason: SessionEndReason) => void): { dispose(): void } {
    this.endListeners.add(listener);
    return { dispose: () => this.endListeners.delete(listener) };
  }

  dispose(): void {
    if (this.timer) {
      clearTimeout(this.timer);
    }
  }

  private async save(tokens: TokenResponse): Promise<StoredSession> {
    const session: StoredSession = {
      accessToken: tokens.access_token,
      refreshToken: tokens.refresh_token,
      expiresAt: this.now() + tokens.expires_in * 1000,
      user: tokens.user,
    };
    this.session = session;
    await this.secrets.store(this.key, JSON.stringify(session));
    this.schedule();
    return session;
  }

  private async forget(reason: SessionEndReason): Promise<void> {
    this.dispose();
    this.session = undefined;
    await this.secrets.delete(this.key);
    for (const listener of this.endListeners) {
      listener(reason);
    }
  }

  private schedule(): void {
    this.dispose();
    if (!this.session) {
      return;
    }
    const delay = Math.max(this.session.expiresAt - this.now() - RefreshMargin, 1_000);
    this.timer = setTimeout(() => {
      // A failed background refresh is retried on the next request; a revocation already ended the session.
      this.refresh().catch(() => undefined);
    }, delay);
    this.timer.unref?.();
  }
}
