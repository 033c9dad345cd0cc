import { describe, expect, it } from "vitest";
import { ApiClient } from "./client";
import { ApiError, ApiUnavailableError } from "./errors";

function json(status: number, body: unknown, contentType = "application/json"): Response {
  return new Response(body === undefined ? null : JSON.stringify(body), { status, headers: { "Content-Type": contentType } });
}

describe("ApiClient", () => {
  it("refreshes once and retries a request the Api answered 401", async () => {
    const seen: (string | null)[] = [];
    const fetchImpl = async (_input: RequestInfo | URL, init?: RequestInit) => {
      const auth = new Headers(init?.headers).get("Authorization");
      seen.push(auth);
      return auth === "Bearer fresh" ? json(200, { rooms: [] }) : json(401, undefined);
    };
    const client = new ApiClient({ accessToken: async () => "stale", refresh: async () => ({ accessToken: "fresh" }) }, fetchImpl);

    expect(await client.listRooms()).toEqual({ rooms: [] });
    expect(seen).toEqual(["Bearer stale", "Bearer fresh"]);
  });

  it("turns a problem into an error carrying the problem's detail", async () => {
    const client = new ApiClient({ accessToken: async () => "t", refresh: async () => null }, async () =>
      json(403, { title: "Forbidden", detail: "Only the host can invite.", status: 403 }, "application/problem+json"));

    const error = await client.createInvite("r").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).message).toBe("Only the host can invite.");
  });

  it("reports the Api as unreachable for a network failure and for the proxy's bare 502", async () => {
    const down = new ApiClient({ accessToken: async () => "t", refresh: async () => null }, async () => {
      throw new TypeError("Failed to fetch");
    });
    await expect(down.listRooms()).rejects.toBeInstanceOf(ApiUnavailableError);

    const proxyOnly = new ApiClient({ accessToken: async () => "t", refresh: async () => null }, async () => new Response(null, { status: 502 }));
    await expect(proxyOnly.listRooms()).rejects.toBeInstanceOf(ApiUnavailableError);

    // The web host's generic status page for the proxy's 502: still "unreachable".
    const statusPage = new ApiClient({ accessToken: async () => "t", refresh: async () => null }, async () =>
      json(502, { type: "https://tools.ietf.org/html/rfc9110#section-15.6.3", title: "Bad Gateway", status: 502 }, "application/problem+json"));
    await expect(statusPage.listRooms()).rejects.toBeInstanceOf(ApiUnavailableError);
  });

  it("keeps the Api's own 502 problem (an AI provider failed) as a readable error", async () => {
    const client = new ApiClient({ accessToken: async () => "t", refresh: async () => null }, async () =>
      json(502, { title: "The provider failed", detail: "The model's answer was not valid twice.", status: 502 }, "application/problem+json"));
    const error = await client.listRooms().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).message).toBe("The model's answer was not valid twice.");
  });
});
