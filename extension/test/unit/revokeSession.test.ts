import * as assert from 'node:assert/strict';
import { ApiError, BackendUnreachableError } from '../../src/api/errors';
import { revokeSession } from '../../src/auth/revokeSession';

const notShared = () => new ApiError(503, 'Sign-out not yet shared', undefined, 'sign_out_not_shared');

describe('revokeSession (signing out on every Api instance)', () => {
  it('answers shared when the Api revokes at once', async () => {
    const calls: string[] = [];
    assert.equal(await revokeSession(async token => void calls.push(token), 'r1', [1], async () => {}), 'shared');
    assert.deepEqual(calls, ['r1']);
  });

  it('retries a sign-out the Api could not share yet, after each delay, until it is shared', async () => {
    const slept: number[] = [];
    let calls = 0;
    const outcome = await revokeSession(async () => {
      calls++;
      if (calls < 3) {
        throw notShared();
      }
    }, 'r1', [10, 20, 30], async ms => void slept.push(ms));
    assert.equal(outcome, 'shared');
    assert.equal(calls, 3);
    assert.deepEqual(slept, [10, 20]);
  });

  it('answers not-shared once the retries are spent, unreachable without an answer, shared for any other refusal', async () => {
    let calls = 0;
    assert.equal(await revokeSession(async () => { calls++; throw notShared(); }, 'r1', [1, 1], async () => {}), 'not-shared');
    assert.equal(calls, 3);
    assert.equal(await revokeSession(async () => { throw new BackendUnreachableError('http://127.0.0.1:1', new Error('refused')); }, 'r1', [1], async () => {}), 'unreachable');
    assert.equal(await revokeSession(async () => { throw new ApiError(400, 'Invalid refresh token', undefined, 'invalid_grant'); }, 'r1', [1], async () => {}), 'shared');
  });
});
