import { describe, expect, it } from "vitest";
import { EventDataParser } from "../ai/sse";
import { applyEvent, emptyTranscript, parseConversationEvent, type Transcript } from "./transcript";

function replay(frames: string): { transcript: Transcript; lastEventId: string } {
  const parser = new EventDataParser();
  let transcript = emptyTranscript;
  for (const data of parser.push(frames)) {
    const event = parseConversationEvent(data);
    if (event) transcript = applyEvent(transcript, event);
  }
  return { transcript, lastEventId: parser.lastEventId };
}

const start = (turn: number, attempt: string, bot: string) =>
  `id: ${turn}.${attempt}.s\nevent: turn_start\ndata: {"type":"turn_start","turn":${turn},"bot_index":${turn % 2},"bot_name":"${bot}","provider":"openai","model":"m"}\n\n`;
const token = (turn: number, attempt: string, offset: number, text: string) =>
  `id: ${turn}.${attempt}.${offset}\nevent: token\ndata: {"type":"token","turn":${turn},"bot_index":0,"text":"${text}"}\n\n`;
const end = (turn: number) => `id: ${turn}.e\nevent: turn_end\ndata: {"type":"turn_end","turn":${turn},"bot_index":0,"length":1}\n\n`;

describe("a conversation transcript", () => {
  it("builds turns from their tokens and remembers where to resume", () => {
    const { transcript, lastEventId } = replay(start(0, "a1", "Pro") + token(0, "a1", 4, "Cats") + token(0, "a1", 9, " win.") + end(0)
      + start(1, "b2", "Con") + token(1, "b2", 3, "No."));
    expect(transcript.turns.map((t) => [t.botName, t.text, t.complete])).toEqual([["Pro", "Cats win.", true], ["Con", "No.", false]]);
    expect(lastEventId).toBe("1.b2.3");
  });

  it("starts a turn over when it is generated again after a restart", () => {
    const { transcript } = replay(start(0, "a1", "Pro") + token(0, "a1", 7, "partial") + start(0, "c3", "Pro") + token(0, "c3", 5, "fresh") + end(0));
    expect(transcript.turns).toHaveLength(1);
    expect(transcript.turns[0]?.text).toBe("fresh");
  });

  it("ends with the status and drops a turn a stop cut off", () => {
    const { transcript } = replay(start(0, "a1", "Pro") + token(0, "a1", 2, "ok") + end(0) + start(1, "b1", "Con") + token(1, "b1", 3, "hal")
      + 'event: done\ndata: {"type":"done","status":"stopped","turns":1}\n\n');
    expect(transcript.status).toBe("stopped");
    expect(transcript.turns.map((t) => t.text)).toEqual(["ok"]);
  });

  it("keeps a provider failure and ignores what it does not understand", () => {
    let transcript = emptyTranscript;
    for (const data of ['{"type":"error","message":"the provider answered HTTP 503"}', "not json", '{"type":"mystery"}']) {
      const event = parseConversationEvent(data);
      if (event) transcript = applyEvent(transcript, event);
    }
    expect(transcript.error).toBe("the provider answered HTTP 503");
  });
});
