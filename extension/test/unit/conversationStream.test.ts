import * as assert from 'node:assert/strict';
import { applyEventData, emptyTranscript, EventStreamParser, renderTranscript, type Transcript } from '../../src/conversations/conversationStream';

function follow(chunks: readonly string[], from: Transcript = emptyTranscript): { transcript: Transcript; lastEventId: string } {
  const parser = new EventStreamParser();
  let transcript = from;
  let lastEventId = '';
  for (const chunk of chunks) {
    for (const frame of parser.push(chunk)) {
      transcript = applyEventData(transcript, frame.data);
      lastEventId = frame.lastEventId;
    }
  }
  return { transcript, lastEventId };
}

const start = (turn: number, attempt: string, bot: string): string =>
  `id: ${turn}.${attempt}.s\nevent: turn_start\ndata: {"type":"turn_start","turn":${turn},"bot_index":0,"bot_name":"${bot}","provider":"openai","model":"m"}\n\n`;
const token = (turn: number, attempt: string, offset: number, text: string): string =>
  `id: ${turn}.${attempt}.${offset}\nevent: token\ndata: {"type":"token","turn":${turn},"bot_index":0,"text":"${text}"}\n\n`;
const end = (turn: number): string => `id: ${turn}.e\nevent: turn_end\ndata: {"type":"turn_end","turn":${turn},"bot_index":0,"length":1}\n\n`;

describe('conversation stream', () => {
  it('builds turns from tokens however the chunks split, and keeps the id to resume from', () => {
    const frames = start(0, 'a1', 'Pro') + token(0, 'a1', 4, 'Cats') + token(0, 'a1', 9, ' win.') + end(0) + start(1, 'b2', 'Con') + token(1, 'b2', 3, 'No.');
    const { transcript, lastEventId } = follow([frames.slice(0, 50), frames.slice(50, 51), frames.slice(51)]);
    assert.deepEqual(transcript.turns.map(t => [t.botName, t.text, t.complete]), [['Pro', 'Cats win.', true], ['Con', 'No.', false]]);
    assert.equal(lastEventId, '1.b2.3');
  });

  it('starts a turn over when the Api generates it again after a restart', () => {
    const { transcript } = follow([start(0, 'a1', 'Pro') + token(0, 'a1', 7, 'partial'), start(0, 'c3', 'Pro') + token(0, 'c3', 5, 'fresh') + end(0)]);
    assert.deepEqual(transcript.turns.map(t => t.text), ['fresh']);
  });

  it('ends with the status, drops the turn a stop cut off, and renders the transcript', () => {
    const { transcript } = follow([start(0, 'a1', 'Pro') + token(0, 'a1', 2, 'ok') + end(0) + start(1, 'b1', 'Con') + token(1, 'b1', 3, 'hal'),
      ': keep-alive\n\nevent: done\ndata: {"type":"done","status":"stopped","turns":1}\n\n']);
    assert.equal(transcript.status, 'stopped');
    assert.equal(renderTranscript('Cats?', transcript), '# Cats?\n\n## 1. Pro (openai, m)\nok\n\nConversation stopped.');
  });

  it('keeps a provider failure and ignores data it does not understand', () => {
    let transcript = applyEventData(emptyTranscript, '{"type":"error","message":"the provider answered HTTP 503"}');
    transcript = applyEventData(transcript, 'not json');
    assert.equal(transcript.error, 'the provider answered HTTP 503');
    assert.deepEqual(transcript.turns, []);
  });
});
