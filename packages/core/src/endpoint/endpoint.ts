/**
 * A branch endpoint (scale to zero): the stable MariaDB address of a branch
 * that starts the branch's compute on the first connection and stops it
 * after a while without any. `stepEndpoint(state, input)` only computes: it
 * returns the next state and the effects the shell performs (start or stop
 * the compute, pipe or hold a client, release or fail the held ones). The
 * shell owns the sockets, the processes and the clock; it feeds back what
 * happened (`started`, `stopped`, `observed`) and `tick`s at
 * `nextDeadlineMs`.
 *
 *   stopped ──connect──► starting ──started──► active ◄──connect── idle
 *      ▲                    │                    │ last client left ▲
 *      │                startFailed              └──────────────────┘
 *      │                    ▼                                        │
 *      └────────────────  stopped   ◄──stopped── stopping ◄─tick (idle timeout)
 *                                                   │ a client arrived meanwhile
 *                                                   └──stopped──► starting
 *
 * Rules:
 *   - a client is piped only while the compute takes connections (active or
 *     idle); otherwise it is held, and released once the start finished;
 *   - a client arriving while the compute stops waits for the stop to end
 *     and then gets a fresh compute (a stopping server refuses new sessions);
 *   - the endpoint stops only a compute it started itself (`owned`): one
 *     started by name (`strata compute start`, `strata up`) was asked for
 *     and runs until it is stopped by name; the endpoint pipes to it all the
 *     same;
 *   - the idle clock starts when the last piped client leaves, and an idle
 *     timeout of 0 means never; clients connected straight to the compute's
 *     own port are invisible here, so the shell looks before it stops and
 *     may cancel (`stopCancelled`: the clock starts again);
 *   - held clients are bounded (`waitingMax`): past it a client is refused
 *     at once instead of piling up behind a slow start.
 */
import { assert } from '../assert.js';

export type EndpointPhase = 'stopped' | 'starting' | 'active' | 'idle' | 'stopping';

export interface EndpointState {
  readonly phase: EndpointPhase;
  /** Clients piped to the running compute. */
  readonly piped: number;
  /** Clients held until the compute takes connections (starting or stopping). */
  readonly waiting: number;
  readonly waitingMax: number;
  /** When the last piped client left (phase idle): the idle clock runs from there. */
  readonly idleSinceMs: number | null;
  /** How long the compute may stay idle before it is stopped; 0 = never. */
  readonly idleTimeoutMs: number;
  /** True while the running (or starting) compute is one this endpoint started: only those are stopped when idle. */
  readonly owned: boolean;
  /** Why the last start failed (shown by `compute list`); null once a start succeeds. */
  readonly lastError: string | null;
}

export type EndpointInput =
  /** A client connected to the endpoint. */
  | { readonly type: 'connect'; readonly nowMs: number }
  /** A client went away; `waited`: it was still held (never piped). */
  | { readonly type: 'disconnect'; readonly nowMs: number; readonly waited: boolean }
  /** The shell's timer (at `nextDeadlineMs`), or any later moment: deadlines are checked against `nowMs`. */
  | { readonly type: 'tick'; readonly nowMs: number }
  /** The start the endpoint asked for finished: the compute takes connections. */
  | { readonly type: 'started'; readonly nowMs: number }
  | { readonly type: 'startFailed'; readonly nowMs: number; readonly reason: string }
  /** The stop the endpoint asked for finished: no compute runs. */
  | { readonly type: 'stopped'; readonly nowMs: number }
  /** The shell did not stop after all: the compute still has clients the endpoint does not see (straight to its own port). */
  | { readonly type: 'stopCancelled'; readonly nowMs: number }
  /** What the shell found by looking: whether a read-write compute of the branch runs (someone else may start or stop it, or it may crash). */
  | {
      readonly type: 'observed';
      readonly nowMs: number;
      readonly running: boolean;
      /** The running compute is one this endpoint started before (a proxy that restarted finds it): it stays under the idle stop. */
      readonly startedByEndpoint?: boolean;
    }
  | { readonly type: 'configure'; readonly nowMs: number; readonly idleTimeoutMs: number };

export type EndpointEffect =
  /** Start the branch's read-write compute; report `started` or `startFailed`. */
  | { readonly kind: 'startCompute' }
  /** Stop the compute cleanly; report `stopped`, or `stopCancelled` if it still has clients of its own. */
  | { readonly kind: 'stopCompute' }
  /** Pipe the client that just connected to the compute. */
  | { readonly kind: 'pipe' }
  /** Hold the client that just connected (it is counted in `waiting`). */
  | { readonly kind: 'hold' }
  /** Close the client that just connected: too many are held already. */
  | { readonly kind: 'refuse'; readonly reason: string }
  /** Pipe every held client to the compute that now runs. */
  | { readonly kind: 'releaseWaiters' }
  /** Close every held client: the compute could not be started. */
  | { readonly kind: 'failWaiters'; readonly reason: string };

export interface EndpointStep {
  readonly state: EndpointState;
  readonly effects: readonly EndpointEffect[];
}

/** Clients held while one compute starts: far more than a start takes to serve, few enough to bound the memory they hold. */
export const ENDPOINT_WAITING_MAX = 1024;

export function newEndpoint(opts: { idleTimeoutMs: number; waitingMax?: number }): EndpointState {
  assertTimeout(opts.idleTimeoutMs);
  const waitingMax = opts.waitingMax ?? ENDPOINT_WAITING_MAX;
  assert(Number.isInteger(waitingMax) && waitingMax > 0, `waitingMax must be a positive integer, got ${waitingMax}`);
  return { phase: 'stopped', piped: 0, waiting: 0, waitingMax, idleSinceMs: null, idleTimeoutMs: opts.idleTimeoutMs, owned: false, lastError: null };
}

function assertTimeout(ms: number): void {
  assert(Number.isSafeInteger(ms) && ms >= 0, `idle timeout must be a non-negative integer of ms, got ${ms}`);
}

/** The endpoint's invariants; checked after every step. */
export function assertEndpoint(s: EndpointState): void {
  assert(s.piped >= 0 && s.waiting >= 0, `client counts went negative: piped ${s.piped}, waiting ${s.waiting}`);
  assert(s.waiting <= s.waitingMax, `${s.waiting} clients held, above the bound ${s.waitingMax}`);
  // Clients are held only while no compute takes connections; once one does, they are piped.
  assert(s.waiting === 0 || s.phase === 'starting' || s.phase === 'stopping', `${s.waiting} clients held in phase ${s.phase}`);
  assert((s.phase === 'idle') === (s.idleSinceMs !== null), `idleSinceMs ${s.idleSinceMs} in phase ${s.phase}`);
  assert(s.phase !== 'idle' || s.piped === 0, `phase idle with ${s.piped} piped clients`);
  assert(s.phase !== 'active' || s.piped > 0, 'phase active with no piped client');
  assert(s.phase !== 'stopped' || !s.owned, 'a stopped endpoint owns no compute');
  assert(s.phase !== 'starting' || s.owned, 'a start the endpoint asked for is its own');
}

/** When the shell must `tick` next (the idle timeout of an owned idle compute), or null: nothing is due. */
export function nextDeadlineMs(s: EndpointState): number | null {
  if (s.phase !== 'idle' || !s.owned || s.idleTimeoutMs === 0 || s.idleSinceMs === null) return null;
  return s.idleSinceMs + s.idleTimeoutMs;
}

const idleFrom = (nowMs: number) => ({ phase: 'idle' as const, idleSinceMs: nowMs });
const busy = { phase: 'active' as const, idleSinceMs: null };

export function stepEndpoint(s: EndpointState, input: EndpointInput): EndpointStep {
  const r = step(s, input);
  assertEndpoint(r.state);
  return r;
}

function step(s: EndpointState, input: EndpointInput): EndpointStep {
  switch (input.type) {
    case 'connect':
      return connect(s);
    case 'disconnect':
      return disconnect(s, input.nowMs, input.waited);
    case 'tick': {
      const due = nextDeadlineMs(s);
      if (due === null || input.nowMs < due) return { state: s, effects: [] };
      return { state: { ...s, phase: 'stopping', idleSinceMs: null }, effects: [{ kind: 'stopCompute' }] };
    }
    case 'started': {
      assert(s.phase === 'starting', `started in phase ${s.phase}: only the endpoint's own start reports it`);
      const piped = s.piped + s.waiting;
      const next = { ...s, piped, waiting: 0, lastError: null, ...(piped > 0 ? busy : idleFrom(input.nowMs)) };
      return { state: next, effects: s.waiting > 0 ? [{ kind: 'releaseWaiters' }] : [] };
    }
    case 'startFailed': {
      assert(s.phase === 'starting', `startFailed in phase ${s.phase}`);
      const next: EndpointState = { ...s, phase: 'stopped', waiting: 0, owned: false, idleSinceMs: null, lastError: input.reason };
      return { state: next, effects: s.waiting > 0 ? [{ kind: 'failWaiters', reason: input.reason }] : [] };
    }
    case 'stopped': {
      assert(s.phase === 'stopping', `stopped in phase ${s.phase}: only the endpoint's own stop reports it`);
      // Clients that arrived while the compute was going down get a fresh one.
      if (s.waiting > 0) return { state: { ...s, phase: 'starting', owned: true }, effects: [{ kind: 'startCompute' }] };
      return { state: { ...s, phase: 'stopped', owned: false }, effects: [] };
    }
    case 'stopCancelled': {
      assert(s.phase === 'stopping', `stopCancelled in phase ${s.phase}`);
      // The compute never went down: clients held meanwhile are piped, and the idle clock starts again.
      const piped = s.piped + s.waiting;
      const next = { ...s, piped, waiting: 0, ...(piped > 0 ? busy : idleFrom(input.nowMs)) };
      return { state: next, effects: s.waiting > 0 ? [{ kind: 'releaseWaiters' }] : [] };
    }
    case 'observed':
      return observed(s, input.nowMs, input.running, input.startedByEndpoint ?? false);
    case 'configure':
      assertTimeout(input.idleTimeoutMs);
      return { state: { ...s, idleTimeoutMs: input.idleTimeoutMs }, effects: [] };
  }
}

function connect(s: EndpointState): EndpointStep {
  switch (s.phase) {
    case 'active':
    case 'idle':
      return { state: { ...s, piped: s.piped + 1, ...busy }, effects: [{ kind: 'pipe' }] };
    case 'stopped':
      return { state: { ...s, phase: 'starting', waiting: 1, owned: true }, effects: [{ kind: 'hold' }, { kind: 'startCompute' }] };
    case 'starting':
    case 'stopping':
      if (s.waiting >= s.waitingMax) return { state: s, effects: [{ kind: 'refuse', reason: `${s.waiting} clients are already waiting for this branch's compute to ${s.phase === 'starting' ? 'start' : 'stop and start again'}` }] };
      return { state: { ...s, waiting: s.waiting + 1 }, effects: [{ kind: 'hold' }] };
  }
}

function disconnect(s: EndpointState, nowMs: number, waited: boolean): EndpointStep {
  if (waited) {
    assert(s.waiting > 0, 'a held client left but none was held');
    return { state: { ...s, waiting: s.waiting - 1 }, effects: [] };
  }
  assert(s.piped > 0, 'a piped client left but none was piped');
  const piped = s.piped - 1;
  // The last client of a running compute starts the idle clock; in other phases the count only shrinks.
  if (piped === 0 && s.phase === 'active') return { state: { ...s, piped, ...idleFrom(nowMs) }, effects: [] };
  return { state: { ...s, piped }, effects: [] };
}

function observed(s: EndpointState, nowMs: number, running: boolean, startedByEndpoint: boolean): EndpointStep {
  // A start or stop of the endpoint's own is in flight: its report decides, not a look in the middle of it.
  if (s.phase === 'starting' || s.phase === 'stopping') return { state: s, effects: [] };
  if (s.phase === 'stopped' && running) {
    // Started by name: piped to, never stopped by the endpoint (unless the endpoint itself started it, before a restart).
    // Clients of a compute that went away may still be counted until they leave.
    return { state: { ...s, owned: startedByEndpoint, ...(s.piped > 0 ? busy : idleFrom(nowMs)) }, effects: [] };
  }
  if ((s.phase === 'active' || s.phase === 'idle') && !running) {
    // Stopped by name or crashed: piped clients lose their compute connection and leave on their own.
    return { state: { ...s, phase: 'stopped', owned: false, idleSinceMs: null }, effects: [] };
  }
  return { state: s, effects: [] };
}
