import { describe, expect, it } from "vitest";
import { ApiError } from "../api/errors";
import { revokeSession } from "./revokeSession";

const notShared = () => new ApiError(503, { title: "Sign-out not yet shared", status: 503, code: "sign_out_not_shared" });

describe("revokeSession", () => {
  it("answers shared when the Api revokes at once", async () => {
    const calls: string[] = [];
    const outcome = await revokeSession(async (token) => void calls.push(token), "r1", [1], async () => {});
    expect(outcome).toBe("shared");
    expect(calls).toEqual(["r1"]);
  });

  it("retries a sign-out the Api could not share yet, after each delay, until it is shared", async () => {
    const slept: number[] = [];
    let calls = 0;
    const outcome = await revokeSession(
      async () => {
        calls++;
        if (calls < 3) throw notShared();
      },
      "r1",
      [10, 20, 30],
      async (ms) => void slept.push(ms),
    );
    expect(outcome).toBe("shared");
    expect(calls).toBe(3);
    expect(slept).toEqual([10, 20]);
  });

  it("answers not_shared once the retries are spent", async () => {
    let calls = 0;
    const outcome = await revokeSession(
      async () => {
        calls++;
        throw notShared();
      },
      "r1",
      [1, 1],
      async () => {},
    );
    expect(outcome).toBe("not_shared");
    expect(calls).toBe(3);
  });

  it("answers unreachable when the Api cannot be reached, and shared when it refuses the token for another reason", async () => {
    expect(await revokeSession(async () => { throw new TypeError("Failed to fetch"); }, "r1", [1], async () => {})).toBe("unreachable");
    expect(
      await revokeSession(async () => { throw new ApiError(400, { title: "Invalid refresh token", status: 400, code: "invalid_grant" }); }, "r1", [1], async () => {}),
    ).toBe("shared");
  });
});
