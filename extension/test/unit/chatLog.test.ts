import * as assert from 'node:assert/strict';
import type { ChatMessage } from '../../src/api/types';
import { backoffDelay, withRetry } from '../../src/chat/backoff';
import { ChatLog } from '../../src/chat/chatLog';

function message(seq: number, id = `m${seq}`): ChatMessage {
  return { id, room_id: 'r', seq, user_id: 'u', login: 'a', kind: 'text', content: `#${seq}`, timestamp: `2026-01-01T00:00:${String(seq).padStart(2, '0')}Z` };
}

describe('ChatLog', () => {
  it('merges by id and keeps seq order, returning only what was new', () => {
    const log = new ChatLog();
    assert.deepEqual(log.merge([message(2), message(1)]).map(m => m.seq), [1, 2]);
    // A reconnect's history overlaps what the socket already delivered.
    assert.deepEqual(log.merge([message(2), message(3), message(1)]).map(m => m.seq), [3]);
    assert.deepEqual(log.messages.map(m => m.seq), [1, 2, 3]);
    assert.equal(log.lastTimestamp, message(3).timestamp);
  });

  it('keeps at most the limit, dropping the oldest', () => {
    const log = new ChatLog(2);
    log.merge([message(1), message(2), message(3)]);
    assert.deepEqual(log.messages.map(m => m.seq), [2, 3]);
  });
});

describe('backoff', () => {
  it('doubles up to the cap', () => {
    const top = () => 1;
    assert.equal(backoffDelay(1, 1000, 4000, top), 1000);
    assert.equal(backoffDelay(2, 1000, 4000, top), 2000);
    assert.equal(backoffDelay(3, 1000, 4000, top), 4000);
    assert.equal(backoffDelay(9, 1000, 4000, top), 4000);
    assert.equal(backoffDelay(3, 1000, 4000, () => 0), 2000);
  });

  it('retries retryable failures and gives up after the attempts', async () => {
    const delays: number[] = [];
    let calls = 0;
    await assert.rejects(withRetry(async () => {
      calls++;
      throw new Error('down');
    }, { attempts: 3, baseMs: 10, maxMs: 100, retryable: () => true, sleep: async ms => { delays.push(ms); } }), /down/);
    assert.equal(calls, 3);
    assert.equal(delays.length, 2);
  });

  it('does not retry a refusal', async () => {
    let calls = 0;
    await assert.rejects(withRetry(async () => {
      calls++;
      throw new Error('413');
    }, { attempts: 3, baseMs: 10, maxMs: 100, retryable: () => false, sleep: async () => undefined }), /413/);
    assert.equal(calls, 1);
  });

  it('returns the first success', async () => {
    let calls = 0;
    const value = await withRetry(async () => {
      if (++calls < 2) {
        throw new Error('blip');
      }
      return 'ok';
    }, { attempts: 3, baseMs: 1, maxMs: 1, retryable: () => true, sleep: async () => undefined });
    assert.equal(value, 'ok');
  });
});
