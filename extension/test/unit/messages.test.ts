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
  });

  for (const bad of [null, 'send', 42, {}, { type: 'nope' }, { type: 'send' }, { type: 'send', text: '   ' }, { type: 'send', text: 5 },
    { type: 'openHit', path: 'a', line: 0, column: 1 }, { type: 'openHit', path: 'a', line: 1.5, column: 1 },
    { type: 'upload', name: '', contentType: 'x', base64: '', size: 0 }, { type: 'search', query: '' }]) {
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
  it('ignores unknown types, non-objects and broken JSON', () => {
    assert.equal(parseServerFrame('{"type":"future_thing"}'), undefined);
    assert.equal(parseServerFrame('[1,2]'), undefined);
    assert.equal(parseServerFrame('"chat"'), undefined);
    assert.equal(parseServerFrame('{'), undefined);
  });
});
