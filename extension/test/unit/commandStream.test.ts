import * as assert from 'node:assert/strict';
import { describeRun, EventStreamParser } from '../../src/commands/commandStream';
import { isTerminalId, parseTerminalFrame, toTerminalText } from '../../src/terminal/terminalFrames';

describe('EventStreamParser', () => {
  it('yields named events however the chunks are split', () => {
    const parser = new EventStreamParser();
    assert.deepEqual(parser.push('event: started\ndata: {"id":"1"}\n'), []);
    assert.deepEqual(parser.push('\nevent: output\r\ndata: {"seq":1,'), [{ event: 'started', data: '{"id":"1"}' }]);
    assert.deepEqual(parser.push('"text":"hi"}\r\n\r\n: comment\n\ndata: a\ndata: b\n\n'), [
      { event: 'output', data: '{"seq":1,"text":"hi"}' },
      { event: 'message', data: 'a\nb' },
    ]);
  });

  it('describes a finished run', () => {
    assert.equal(describeRun({ id: 'x', argv: ['npm', 'test'], status: 'failed', exit_code: 1, duration_ms: 1500 }), 'npm test: failed (exit 1) in 1.5 s');
    assert.equal(describeRun({ id: 'x', argv: ['make', 'test'], status: 'cancelled', exit_code: null, duration_ms: null }), 'make test: cancelled');
    // As the Api sends a run that ended without an exit code, or one still running: the null members are left out.
    assert.equal(describeRun({ id: 'x', argv: ['make', 'test'], status: 'timed_out', duration_ms: 2000 }), 'make test: timed_out in 2.0 s');
    assert.equal(describeRun({ id: 'x', argv: ['make', 'test'], status: 'running' }), 'make test: running');
  });
});

describe('terminal frames', () => {
  it('parses known frames and ignores others', () => {
    assert.deepEqual(parseTerminalFrame('{"type":"output","data":"x"}'), { type: 'output', data: 'x' });
    assert.equal(parseTerminalFrame('{"type":"other"}'), undefined);
    assert.equal(parseTerminalFrame('nope'), undefined);
  });

  it('turns bare line feeds into CRLF and keeps existing ones', () => {
    assert.equal(toTerminalText('a\nb\r\nc'), 'a\r\nb\r\nc');
  });

  it('accepts only plain terminal ids', () => {
    assert.equal(isTerminalId('main'), true);
    assert.equal(isTerminalId('../x'), false);
  });
});
