import { describe, expect, it } from "vitest";
import type { TokenResponse } from "../api/contracts";
import { ApiError, ApiUnavailableError } from "../api/errors";
import { SessionManager, type Clock, type ExclusiveLock, type SessionStore, type StoredSession } from "./session";

class ManualClock implements Clock {
  time = 1_000_000;
  private timers: { at: number; callback: () => void; id: number }[] = [];
  private nextId = 1;
  now = () => this.time;
  setTimeout = (callback: () => void, delayMs: number) => {
    const id = this.nextId++;
    this.timers.push({ at: this.time + delayMs, callback, id });
    return id;
  };
  clearTimeout = (handle: unknown) => {
    this.timers = this.timers.filter((t) => t.id !== handle);
  };
  advance(ms: number) {
    this.time += ms;
    const due = this.timers.filter((t) => t.at <= this.time);
    this.timers = this.timers.filter((t) => t.at > this.time);
    due.forEach((t) => t.callback());
  }
}

class MemoryStore implements SessionStore {
  value: StoredSession | null = null;
  load = () => this.value;
  save = (session: StoredSession | null) => {
    this.value = session;
  };
}

/** A lock shared by "tabs": runs one action at a time, in order. */
function sharedLock(): ExclusiveLock {
  let tail: Promise<unknown> = Promise.resolve();
  return <T>(_name: string, action: () => Promise<T>) => {
    const run = tail.then(action, action);
    tail = run.catch(() => undefined);
    return run;
  };
}

function tokens(n: number, expiresIn = 900): TokenResponse {
  return { access_token: `access-${n}`, refresh_token: `refresh-${n}`, expires_in: expiresIn, token_type: "Bearer", user: { id: "u1", login: "alice" } };
}

const flush = () => new Promise((resolve) => setTimeout(resolve, 0));

describe("SessionManager", () => {
  it("refreshes the access token a minute before it expires, on its own", async () => {
    const clock = new ManualClock();
    const store = new MemoryStore();
    const calls: string[] = [];
    const manager = new SessionManager(store, async (token) => (calls.push(token), tokens(2)), clock, sharedLock());
    manager.signIn(tokens(1));

    clock.advance(900_000 - 61_000);
    await flush();
    expect(calls).toEqual([]);

    clock.advance(1_000);
    await flush();
    expect(calls).toEqual(["refresh-1"]);
    expect(manager.session?.accessToken).toBe("access-2");
    expect(store.value?.refreshToken).toBe("refresh-2");
  });

  it("refreshes a short-lived token at half its life instead of over and over", async () => {
    const clock = new ManualClock();
    let calls = 0;
    const manager = new SessionManager(new MemoryStore(), async () => (calls++, tokens(calls + 1, 20)), clock, sharedLock());
    manager.signIn(tokens(1, 20));

    clock.advance(9_000);
    await flush();
    expect(calls).toBe(0);
    clock.advance(1_000);
    await flush();
    expect(calls).toBe(1);
    expect(await manager.accessToken()).toBe("access-2"); // fresh: no second refresh
    expect(calls).toBe(1);
  });

  it("refreshes once when several requests find the token about to expire", async () => {
    const clock = new ManualClock();
    let calls = 0;
    const manager = new SessionManager(new MemoryStore(), async () => (calls++, tokens(2)), clock, sharedLock());
    manager.signIn(tokens(1, 900));
    clock.time += 870_000; // 30 s left: inside the margin (timers not run)

    const answers = await Promise.all([manager.accessToken(), manager.accessToken(), manager.accessToken()]);
    expect(answers).toEqual(["access-2", "access-2", "access-2"]);
    expect(calls).toBe(1);
  });

  it("adopts the token another tab already refreshed instead of presenting the spent one again", async () => {
    const clock = new ManualClock();
    const store = new MemoryStore();
    const lock = sharedLock();
    const presented: string[] = [];
    let issued = 1;
    const refresh = async (token: string) => {
      presented.push(token);
      return tokens(++issued);
    };
    const tabA = new SessionManager(store, refresh, clock, lock);
    tabA.signIn(tokens(1));
    const tabB = new SessionManager(store, refresh, clock, lock); // loaded refresh-1 from storage

    await Promise.all([tabA.refresh(), tabB.refresh()]);
    expect(presented).toEqual(["refresh-1"]); // a second presentation would be "reused" and revoke the sign-in
    expect(tabB.session?.accessToken).toBe("access-2");
  });

  it("ends the sign-in when the Api refuses the refresh token", async () => {
    const clock = new ManualClock();
    const store = new MemoryStore();
    const manager = new SessionManager(store, async () => {
      throw new ApiError(401, { title: "Unauthorized", error: "reused" });
    }, clock, sharedLock());
    manager.signIn(tokens(1));
    const reasons: (string | null)[] = [];
    manager.subscribe((_, reason) => reasons.push(reason));

    expect(await manager.refresh()).toBeNull();
    expect(manager.session).toBeNull();
    expect(store.value).toBeNull();
    expect(reasons).toEqual(["expired"]);
  });

  it("keeps the sign-in when the Api is unreachable, so a later refresh can succeed", async () => {
    const clock = new ManualClock();
    let down = true;
    const manager = new SessionManager(new MemoryStore(), async () => {
      if (down) throw new ApiUnavailableError("network error");
      return tokens(2);
    }, clock, sharedLock());
    manager.signIn(tokens(1, 900));
    clock.time += 870_000;

    await expect(manager.accessToken()).rejects.toBeInstanceOf(ApiUnavailableError);
    expect(manager.session?.refreshToken).toBe("refresh-1");
    down = false;
    expect(await manager.accessToken()).toBe("access-2");
  });

  it("signing out forgets the session and hands back the refresh token to revoke", () => {
    const store = new MemoryStore();
    const manager = new SessionManager(store, async () => tokens(2), new ManualClock(), sharedLock());
    manager.signIn(tokens(1));
    expect(manager.signOut()).toBe("refresh-1");
    expect(manager.session).toBeNull();
    expect(store.value).toBeNull();
  });
});
