import * as assert from 'node:assert/strict';
import { MaxUploadBytes, parseWebviewMessage, uploadTooLargeMessage } from '../../src/panel/messages';
import { parseServerFrame } from '../../src/chat/frames';

describe('parseWebviewMessage', () => {
  it('accepts each well-formed message', () => {
    assert.deepEqual(parseWebviewMessage({ type: 'ready' }), { type: 'ready' });
    assert.deepEqual(parseWebviewMessage({ type: 'send', text: 'hi', extra: 1 }), { type: 'send', text: 'hi' });
    assert.deepEqual(parseWebviewMessage({ type: 'search', query: 'foo' }), { type: 'search', query: 'foo' });
    assert.deepEqual(parseWebviewMessage({ type: 'openHit', path: 'a.ts', line: 3, column: 1 }), { type: 'openHit', path: 'a.ts', line: 3, column: 1 });
    assert.deepEqual(parseWebviewMessage({ type: 'upload', name: 'a.txt', contentType: 'text/plain', base64: 'aGk=', size: 2 }),
      { type: 'upload', name: 'a.txt', contentType: 'text/plain', base64: 'aGk=', size: 2 });
    const answer = '0192f7a4-1c2b-7d3e-8f40-123456789abc';
    assert.deepEqual(parseWebviewMessage({ type: 'chatAiStop', id: answer }), { type: 'chatAiStop', id: answer });
  });

  for (const bad of [null, 'send', 42, {}, { type: 'nope' }, { type: 'send' }, { type: 'send', text: '   ' }, { type: 'send', text: 5 },
    { type: 'openHit', path: 'a', line: 0, column: 1 }, { type: 'openHit', path: 'a', line: 1.5, column: 1 },
    { type: 'upload', name: '', contentType: 'x', base64: '', size: 0 }, { type: 'search', query: '' },
    { type: 'chatAiStop' }, { type: 'chatAiStop', id: 'not-a-uuid' }, { type: 'chatAiStop', id: 7 }]) {
    it(`drops ${JSON.stringify(bad)}`, () => assert.equal(parseWebviewMessage(bad), undefined));
  }
});

describe('uploadTooLargeMessage', () => {
  it('names the file, its size and the 20 MB limit', () => {
    assert.equal(uploadTooLargeMessage('big.zip', MaxUploadBytes + 1024 * 1024), 'big.zip is 21.0 MB: files can be at most 20 MB.');
  });
});

describe('parseServerFrame', () => {
  it('parses a chat frame', () => {
    const frame = parseServerFrame(JSON.stringify({ type: 'chat', id: 'x', room_id: 'r', seq: 1, user_id: 'u', login: 'a', kind: 'text', content: 'hi', timestamp: 't' }));
    assert.equal(frame?.type, 'chat');
  });
  it('parses the frames of a streamed AI answer', () => {
    for (const type of ['ai_start', 'ai_token', 'ai_tool', 'ai_done']) {
      assert.equal(parseServerFrame(JSON.stringify({ type, room_id: 'r', message_id: 'm' }))?.type, type);
    }
  });
  it('ignores unknown types, non-objects and broken JSON', () => {
    assert.equal(parseServerFrame('{"type":"future_thing"}'), undefined);
    assert.equal(parseServerFrame('[1,2]'), undefined);
    assert.equal(parseServerFrame('"chat"'), undefined);
    assert.equal(parseServerFrame('{'), undefined);
  });
});
