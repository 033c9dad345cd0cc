import { describe, expect, it } from "vitest";
import { applyCommandEvent, CommandOutput, parseCommandStreamData, type WatchedRun } from "./commandOutput";

describe("command output", () => {
  it("applies pieces once each and in seq order", () => {
    const output = new CommandOutput();
    expect(output.add(2, "b")).toBe(false);
    expect(output.add(1, "a")).toBe(true);
    expect(output.add(1, "a")).toBe(false);
    expect(output.add(3, "c")).toBe(true);
    expect(output.value).toBe("abc");
  });

  it("keeps only the last characters past its limit", () => {
    const output = new CommandOutput(5);
    output.add(1, "123456789");
    expect(output.value).toBe("56789");
  });

  it("tells stream events apart by their shape", () => {
    expect(parseCommandStreamData('{"seq":1,"text":"hi"}')).toEqual({ kind: "output", seq: 1, text: "hi" });
    const run = parseCommandStreamData('{"id":"x","argv":["npm","test"],"status":"running"}');
    expect(run?.kind).toBe("run");
    expect(parseCommandStreamData("not json")).toBeNull();
    expect(parseCommandStreamData('{"other":1}')).toBeNull();
  });

  it("follows another member's run from the room's events", () => {
    let runs: WatchedRun[] = [];
    runs = applyCommandEvent(runs, { type: "command_started", room_id: "r", command_id: "c", login: "bob", argv: ["make", "test"] });
    runs = applyCommandEvent(runs, { type: "command_output", room_id: "r", command_id: "c", seq: 2, text: " world" });
    runs = applyCommandEvent(runs, { type: "command_output", room_id: "r", command_id: "c", seq: 1, text: "hello" });
    runs = applyCommandEvent(runs, { type: "command_finished", room_id: "r", command_id: "c", status: "succeeded", exit_code: 0 });
    expect(runs).toHaveLength(1);
    expect(runs[0]?.output.value).toBe("hello world");
    expect(runs[0]?.status).toBe("succeeded");
    expect(applyCommandEvent(runs, { type: "member_joined", room_id: "r" })).toBe(runs);
  });
});
