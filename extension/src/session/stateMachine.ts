/**
 * The session state machine of the original design (seeds: "Model A FSM States"), with every transition explicit
 * and checked. The UI (status bar, panel, which commands are allowed) follows the state it reports.
 *
 * | State               | Entered when                          | Leaves by                                                  |
 * | ------------------- | ------------------------------------- | ---------------------------------------------------------- |
 * | Idle                | start, after leaving                  | setReadyToHost → ReadyToHost; join → Joined                |
 * | ReadyToHost         | the user created a room (host mode)   | startCreatingWorkspace → CreatingWorkspace; leaveSession → Idle |
 * | CreatingWorkspace   | the workspace wizard submitted        | workspaceReady → Hosting; creationFailed → ReadyToHost     |
 * | Hosting             | the workspace is provisioned          | leaveSession → Idle                                        |
 * | Joined              | joined another host's room            | leaveSession → Idle                                        |
 * | BackendDisconnected | the room's socket was lost            | backendReconnected → the state it interrupted; leaveSession → Idle |
 *
 * Differences from the seed, on purpose: a lost socket can interrupt ReadyToHost, Hosting and Joined (the seed only
 * names the target state), and `backendReconnected` returns to the interrupted state rather than to Idle, so a
 * network blip does not throw the user out of their room. `reset` (sign-out) goes to Idle from anywhere.
 */
export const SessionStates = ['Idle', 'ReadyToHost', 'CreatingWorkspace', 'Hosting', 'Joined', 'BackendDisconnected'] as const;
export type SessionState = (typeof SessionStates)[number];

export const SessionEvents = [
  'setReadyToHost', 'join', 'startCreatingWorkspace', 'workspaceReady', 'creationFailed', 'leaveSession',
  'backendLost', 'backendReconnected',
] as const;
export type SessionEvent = (typeof SessionEvents)[number];

type ResumableState = 'ReadyToHost' | 'Hosting' | 'Joined';

const transitions: Readonly<Record<SessionState, Partial<Record<SessionEvent, SessionState>>>> = {
  Idle: { setReadyToHost: 'ReadyToHost', join: 'Joined' },
  ReadyToHost: { startCreatingWorkspace: 'CreatingWorkspace', leaveSession: 'Idle', backendLost: 'BackendDisconnected' },
  CreatingWorkspace: { workspaceReady: 'Hosting', creationFailed: 'ReadyToHost' },
  Hosting: { leaveSession: 'Idle', backendLost: 'BackendDisconnected' },
  Joined: { leaveSession: 'Idle', backendLost: 'BackendDisconnected' },
  BackendDisconnected: { backendReconnected: 'Idle', leaveSession: 'Idle' },
};

export class InvalidTransitionError extends Error {
  constructor(readonly from: SessionState, readonly event: SessionEvent) {
    super(`Cannot ${event} while the session is ${from}.`);
    this.name = 'InvalidTransitionError';
  }
}

export type StateListener = (state: SessionState, previous: SessionState, event: SessionEvent | 'reset') => void;

export class SessionStateMachine {
  private current: SessionState = 'Idle';
  private interrupted: ResumableState | undefined;
  private readonly listeners = new Set<StateListener>();

  get state(): SessionState {
    return this.current;
  }

  /** The state a lost connection interrupted (only while BackendDisconnected). */
  get interruptedState(): SessionState | undefined {
    return this.interrupted;
  }

  can(event: SessionEvent): boolean {
    return transitions[this.current][event] !== undefined;
  }

  /** Applies an event or throws {@link InvalidTransitionError}; the state is unchanged on a refusal. */
  fire(event: SessionEvent): SessionState {
    const target = transitions[this.current][event];
    if (target === undefined) {
      throw new InvalidTransitionError(this.current, event);
    }
    let next: SessionState = target;
    if (event === 'backendLost') {
      this.interrupted = this.current as ResumableState;
    } else if (event === 'backendReconnected') {
      next = this.interrupted ?? target;
      this.interrupted = undefined;
    } else if (this.current === 'BackendDisconnected') {
      this.interrupted = undefined;
    }
    this.move(next, event);
    return next;
  }

  setReadyToHost(): void { this.fire('setReadyToHost'); }
  join(): void { this.fire('join'); }
  startCreatingWorkspace(): void { this.fire('startCreatingWorkspace'); }
  workspaceReady(): void { this.fire('workspaceReady'); }
  creationFailed(): void { this.fire('creationFailed'); }
  leaveSession(): void { this.fire('leaveSession'); }
  backendLost(): void { this.fire('backendLost'); }
  backendReconnected(): void { this.fire('backendReconnected'); }

  /** Sign-out or a revoked session: back to Idle from any state. */
  reset(): void {
    this.interrupted = undefined;
    if (this.current !== 'Idle') {
      this.move('Idle', 'reset');
    }
  }

  /** True in the states where the user is in a room (chat, files and search work). */
  get inRoom(): boolean {
    return this.current === 'ReadyToHost' || this.current === 'CreatingWorkspace' || this.current === 'Hosting'
      || this.current === 'Joined' || this.current === 'BackendDisconnected';
  }

  onDidChange(listener: StateListener): { dispose(): void } {
    this.listeners.add(listener);
    return { dispose: () => this.listeners.delete(listener) };
  }

  private move(next: SessionState, event: SessionEvent | 'reset'): void {
    const previous = this.current;
    this.current = next;
    for (const listener of this.listeners) {
      listener(next, previous, event);
    }
  }
}
