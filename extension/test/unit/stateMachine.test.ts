import * as assert from 'node:assert/strict';
import { InvalidTransitionError, SessionEvents, SessionStateMachine, SessionStates, type SessionEvent, type SessionState } from '../../src/session/stateMachine';

/** The design's table, written out independently of the implementation: every (state, event) pair not here is invalid. */
const valid: ReadonlyArray<[SessionState, SessionEvent, SessionState]> = [
  ['Idle', 'setReadyToHost', 'ReadyToHost'],
  ['Idle', 'join', 'Joined'],
  ['ReadyToHost', 'startCreatingWorkspace', 'CreatingWorkspace'],
  ['ReadyToHost', 'leaveSession', 'Idle'],
  ['ReadyToHost', 'backendLost', 'BackendDisconnected'],
  ['CreatingWorkspace', 'workspaceReady', 'Hosting'],
  ['CreatingWorkspace', 'creationFailed', 'ReadyToHost'],
  ['Hosting', 'leaveSession', 'Idle'],
  ['Hosting', 'backendLost', 'BackendDisconnected'],
  ['Joined', 'leaveSession', 'Idle'],
  ['Joined', 'backendLost', 'BackendDisconnected'],
  ['BackendDisconnected', 'backendReconnected', 'Idle'],
  ['BackendDisconnected', 'leaveSession', 'Idle'],
];

/** Drives a fresh machine into `state` through valid events only. */
function machineIn(state: SessionState): SessionStateMachine {
  const machine = new SessionStateMachine();
  const paths: Record<SessionState, SessionEvent[]> = {
    Idle: [],
    ReadyToHost: ['setReadyToHost'],
    CreatingWorkspace: ['setReadyToHost', 'startCreatingWorkspace'],
    Hosting: ['setReadyToHost', 'startCreatingWorkspace', 'workspaceReady'],
    Joined: ['join'],
    // A lost socket always interrupts a room state; Joined is the simplest one to get there from.
    BackendDisconnected: ['join', 'backendLost'],
  };
  for (const event of paths[state]) {
    machine.fire(event);
  }
  assert.equal(machine.state, state);
  return machine;
}

describe('SessionStateMachine', () => {
  it('starts Idle', () => {
    assert.equal(new SessionStateMachine().state, 'Idle');
  });

  for (const from of SessionStates) {
    for (const event of SessionEvents) {
      const row = valid.find(([state, e]) => state === from && e === event);
      if (row) {
        it(`allows ${event} from ${from}`, () => {
          const machine = machineIn(from);
          assert.equal(machine.can(event), true);
          const reached = machine.fire(event);
          // backendReconnected resumes the interrupted state (Joined in machineIn), the table's Idle otherwise.
          const expected = event === 'backendReconnected' ? 'Joined' : row[2];
          assert.equal(reached, expected);
          assert.equal(machine.state, expected);
        });
      } else {
        it(`refuses ${event} from ${from} and stays ${from}`, () => {
          const machine = machineIn(from);
          assert.equal(machine.can(event), false);
          assert.throws(() => machine.fire(event), (error: unknown) =>
            error instanceof InvalidTransitionError && error.from === from && error.event === event);
          assert.equal(machine.state, from);
        });
      }
    }
  }

  it('runs the full host flow and back to Idle', () => {
    const machine = new SessionStateMachine();
    machine.setReadyToHost();
    machine.startCreatingWorkspace();
    machine.workspaceReady();
    assert.equal(machine.state, 'Hosting');
    machine.leaveSession();
    assert.equal(machine.state, 'Idle');
  });

  it('returns to ReadyToHost when creating the workspace fails, so the host can retry', () => {
    const machine = machineIn('CreatingWorkspace');
    machine.creationFailed();
    assert.equal(machine.state, 'ReadyToHost');
    machine.startCreatingWorkspace();
    assert.equal(machine.state, 'CreatingWorkspace');
  });

  it('resumes Hosting after a lost socket reconnects', () => {
    const machine = machineIn('Hosting');
    machine.backendLost();
    assert.equal(machine.state, 'BackendDisconnected');
    assert.equal(machine.interruptedState, 'Hosting');
    machine.backendReconnected();
    assert.equal(machine.state, 'Hosting');
    assert.equal(machine.interruptedState, undefined);
  });

  it('forgets the interrupted state when the user leaves while disconnected', () => {
    const machine = machineIn('Joined');
    machine.backendLost();
    machine.leaveSession();
    assert.equal(machine.state, 'Idle');
    assert.equal(machine.interruptedState, undefined);
  });

  it('reset goes to Idle from every state and notifies listeners', () => {
    for (const state of SessionStates) {
      const machine = machineIn(state);
      const seen: string[] = [];
      machine.onDidChange((next, previous, event) => seen.push(`${previous}-${event}->${next}`));
      machine.reset();
      assert.equal(machine.state, 'Idle');
      assert.deepEqual(seen, state === 'Idle' ? [] : [`${state}-reset->Idle`]);
    }
  });

  it('tells listeners about each transition with its event', () => {
    const machine = new SessionStateMachine();
    const seen: string[] = [];
    const subscription = machine.onDidChange((next, previous, event) => seen.push(`${previous}-${event}->${next}`));
    machine.join();
    subscription.dispose();
    machine.leaveSession();
    assert.deepEqual(seen, ['Idle-join->Joined']);
  });
});
