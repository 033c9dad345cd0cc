import { describe, expect, it } from "vitest";
import { isTerminalId, parseTerminalFrame, terminalSocketUrl } from "./terminalProtocol";

describe("terminal protocol", () => {
  it("builds the socket URL on the page's origin with ws or wss", () => {
    expect(terminalSocketUrl("http://127.0.0.1:5090", "r1", "main", "t&k", 80, 24)).toBe(
      "ws://127.0.0.1:5090/api/ws/terminal/r1/main?ticket=t%26k&cols=80&rows=24",
    );
    expect(terminalSocketUrl("https://conductor.example", "r1", "main", "t", 100, 30)).toMatch(/^wss:\/\/conductor\.example\//);
  });

  it("parses known frames and ignores the rest", () => {
    expect(parseTerminalFrame('{"type":"output","data":"hi"}')).toEqual({ type: "output", data: "hi" });
    expect(parseTerminalFrame('{"type":"exit","code":3,"reason":"the shell exited"}')?.type).toBe("exit");
    expect(parseTerminalFrame('{"type":"mystery"}')).toBeNull();
    expect(parseTerminalFrame("{")).toBeNull();
  });

  it("accepts only plain terminal ids", () => {
    expect(isTerminalId("main")).toBe(true);
    expect(isTerminalId("build-2")).toBe(true);
    expect(isTerminalId("Main")).toBe(false);
    expect(isTerminalId("../x")).toBe(false);
    expect(isTerminalId("")).toBe(false);
  });
});
