import { describe, expect, it } from "vitest";
import { EventDataParser, parseInferData, readEventData } from "./sse";

describe("the event-stream reader", () => {
  it("yields each event's data however the chunks split it", () => {
    const parser = new EventDataParser();
    const out = [
      ...parser.push('data: {"tok'),
      ...parser.push('en":"Hel"}\n'),
      ...parser.push("\ndata: [DO"),
      ...parser.push("NE]\r"),
      ...parser.push("\n\r\n"),
    ];
    expect(out).toEqual(['{"token":"Hel"}', "[DONE]"]);
  });

  it("joins multi-line data and ignores comments and other fields", () => {
    const parser = new EventDataParser();
    expect([...parser.push(": keep-alive\nevent: x\ndata: a\ndata: b\n\n")]).toEqual(["a\nb"]);
  });

  it("reads a whole response body", async () => {
    const body = new Response('data: {"token":"a"}\n\ndata: {"token":"b"}\n\ndata: [DONE]\n\n').body!;
    const seen: string[] = [];
    for await (const data of readEventData(body)) seen.push(data);
    expect(seen.map(parseInferData)).toEqual([
      { kind: "token", text: "a" }, { kind: "token", text: "b" }, { kind: "done" },
    ]);
  });

  it("passes a provider failure through as an error event", () => {
    expect(parseInferData('{"error":"provider timed out"}')).toEqual({ kind: "error", message: "provider timed out" });
  });
});
