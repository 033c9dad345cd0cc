import * as assert from 'node:assert/strict';
import { PendingInput } from '../../src/terminal/pendingInput';

describe('PendingInput (keystrokes typed before the shared terminal is ready)', () => {
  it('holds keystrokes until ready, then sends them in order and later ones at once', () => {
    const input = new PendingInput();
    assert.equal(input.offer('e'), undefined);
    assert.equal(input.offer('cho hi'), undefined);
    assert.equal(input.decide(true), 'echo hi');
    assert.equal(input.offer('\r'), '\r');
  });

  it('drops held and later keystrokes when the Api says we may only watch', () => {
    const input = new PendingInput();
    input.offer('rm -rf x');
    assert.equal(input.decide(false), undefined);
    assert.equal(input.offer('ls'), undefined);
  });

  it('sends nothing when nothing was typed, and holds no more than its limit', () => {
    assert.equal(new PendingInput().decide(true), undefined);
    const input = new PendingInput(4);
    input.offer('abc');
    input.offer('de');
    input.offer('f');
    assert.equal(input.decide(true), 'abcf');
  });
});
