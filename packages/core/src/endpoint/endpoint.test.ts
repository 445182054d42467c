import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { assertEndpoint, type EndpointEffect, type EndpointInput, type EndpointState, newEndpoint, nextDeadlineMs, stepEndpoint } from './endpoint.js';

const MIN = 60_000;

function run(s: EndpointState, ...inputs: EndpointInput[]): { s: EndpointState; effects: EndpointEffect[] } {
  const effects: EndpointEffect[] = [];
  for (const i of inputs) {
    const r = stepEndpoint(s, i);
    s = r.state;
    effects.push(...r.effects);
  }
  return { s, effects };
}
const kinds = (effects: readonly EndpointEffect[]) => effects.map((e) => e.kind);
const connect = (nowMs = 0): EndpointInput => ({ type: 'connect', nowMs });
const leave = (nowMs = 0, waited = false): EndpointInput => ({ type: 'disconnect', nowMs, waited });
const started = (nowMs = 0): EndpointInput => ({ type: 'started', nowMs });
const tick = (nowMs: number): EndpointInput => ({ type: 'tick', nowMs });
const stopped = (nowMs = 0): EndpointInput => ({ type: 'stopped', nowMs });
const fresh = (idleTimeoutMs = 5 * MIN) => newEndpoint({ idleTimeoutMs });

/** An endpoint whose own compute runs with one client piped. */
const activeOwned = () => run(fresh(), connect(0), started(100)).s;

describe('endpoint: waking', () => {
  it('the first connection holds the client and starts the compute', () => {
    const { s, effects } = run(fresh(), connect());
    expect(kinds(effects)).toEqual(['hold', 'startCompute']);
    expect(s).toMatchObject({ phase: 'starting', waiting: 1, owned: true });
  });
  it('connections during a start are held, not started twice', () => {
    const { s, effects } = run(fresh(), connect(), connect(), connect());
    expect(kinds(effects)).toEqual(['hold', 'startCompute', 'hold', 'hold']);
    expect(s.waiting).toBe(3);
  });
  it('held clients are piped once the compute takes connections', () => {
    const { s, effects } = run(fresh(), connect(), connect(), started(50));
    expect(kinds(effects).slice(-1)).toEqual(['releaseWaiters']);
    expect(s).toMatchObject({ phase: 'active', piped: 2, waiting: 0 });
  });
  it('a start that fails closes the held clients, says why, and the next connection tries again', () => {
    const failed = run(fresh(), connect(), connect(), { type: 'startFailed', nowMs: 10, reason: 'page server down' });
    expect(failed.effects.slice(-1)).toEqual([{ kind: 'failWaiters', reason: 'page server down' }]);
    expect(failed.s).toMatchObject({ phase: 'stopped', waiting: 0, owned: false, lastError: 'page server down' });
    const again = run(failed.s, connect(20));
    expect(kinds(again.effects)).toEqual(['hold', 'startCompute']);
    expect(run(again.s, started(30)).s.lastError).toBeNull();
  });
  it('clients that gave up while held do not keep the compute busy: it starts idle', () => {
    const { s } = run(fresh(), connect(0), leave(5, true), started(100));
    expect(s).toMatchObject({ phase: 'idle', piped: 0, idleSinceMs: 100 });
    expect(nextDeadlineMs(s)).toBe(100 + 5 * MIN);
  });
  it('held clients are bounded: past the bound one is refused at once', () => {
    const { s, effects } = run(newEndpoint({ idleTimeoutMs: MIN, waitingMax: 2 }), connect(), connect(), connect());
    expect(kinds(effects)).toEqual(['hold', 'startCompute', 'hold', 'refuse']);
    expect(s.waiting).toBe(2);
  });
});

describe('endpoint: idle timeout', () => {
  it('the idle clock starts when the last client leaves, and only then', () => {
    let s = run(activeOwned(), connect(1000)).s;
    s = run(s, leave(2000)).s;
    expect(s.phase).toBe('active');
    expect(nextDeadlineMs(s)).toBeNull();
    s = run(s, leave(3000)).s;
    expect(s).toMatchObject({ phase: 'idle', idleSinceMs: 3000 });
    expect(nextDeadlineMs(s)).toBe(3000 + 5 * MIN);
  });
  it('stops the compute after the idle timeout, not before', () => {
    const idle = run(activeOwned(), leave(1000)).s;
    expect(run(idle, tick(1000 + 5 * MIN - 1)).effects).toEqual([]);
    const { s, effects } = run(idle, tick(1000 + 5 * MIN));
    expect(kinds(effects)).toEqual(['stopCompute']);
    expect(s.phase).toBe('stopping');
    expect(run(s, stopped()).s).toMatchObject({ phase: 'stopped', owned: false });
  });
  it('a connection while idle resets the clock', () => {
    const s = run(activeOwned(), leave(1000), connect(2000), leave(3000)).s;
    expect(nextDeadlineMs(s)).toBe(3000 + 5 * MIN);
    expect(run(s, tick(1000 + 5 * MIN)).effects).toEqual([]);
  });
  it('an idle timeout of 0 never stops the compute', () => {
    const s = run(newEndpoint({ idleTimeoutMs: 0 }), connect(0), started(1), leave(2)).s;
    expect(nextDeadlineMs(s)).toBeNull();
    expect(run(s, tick(Number.MAX_SAFE_INTEGER)).effects).toEqual([]);
  });
  it('a new setting applies to the idle clock already running', () => {
    const idle = run(activeOwned(), leave(1000)).s;
    const s = run(idle, { type: 'configure', nowMs: 2000, idleTimeoutMs: 3000 }).s;
    expect(nextDeadlineMs(s)).toBe(4000);
    expect(kinds(run(s, tick(4000)).effects)).toEqual(['stopCompute']);
  });
});

describe('endpoint: a stop the shell cancels (clients straight to the compute)', () => {
  const cancelled = (nowMs: number): EndpointInput => ({ type: 'stopCancelled', nowMs });
  it('the compute stays, and the idle clock starts again from the cancel', () => {
    const stopping = run(activeOwned(), leave(1000), tick(1000 + 5 * MIN)).s;
    const { s, effects } = run(stopping, cancelled(1000 + 5 * MIN + 10));
    expect(effects).toEqual([]);
    expect(s).toMatchObject({ phase: 'idle', owned: true, idleSinceMs: 1000 + 5 * MIN + 10 });
    expect(nextDeadlineMs(s)).toBe(1000 + 10 * MIN + 10);
  });
  it('clients held while the shell looked are piped to the compute that stayed', () => {
    const stopping = run(activeOwned(), leave(1000), tick(1000 + 5 * MIN), connect()).s;
    const { s, effects } = run(stopping, cancelled(0));
    expect(kinds(effects)).toEqual(['releaseWaiters']);
    expect(s).toMatchObject({ phase: 'active', piped: 1, waiting: 0 });
  });
});

describe('endpoint: a connection while the compute stops', () => {
  it('waits for the stop, then gets a fresh compute', () => {
    const stopping = run(activeOwned(), leave(1000), tick(1000 + 5 * MIN)).s;
    const held = run(stopping, connect(1000 + 5 * MIN + 1));
    expect(kinds(held.effects)).toEqual(['hold']);
    const restarted = run(held.s, stopped());
    expect(kinds(restarted.effects)).toEqual(['startCompute']);
    expect(restarted.s).toMatchObject({ phase: 'starting', waiting: 1, owned: true });
    const up = run(restarted.s, started());
    expect(kinds(up.effects)).toEqual(['releaseWaiters']);
    expect(up.s).toMatchObject({ phase: 'active', piped: 1 });
  });
  it('one that gave up while waiting does not restart it', () => {
    const stopping = run(activeOwned(), leave(1000), tick(1000 + 5 * MIN), connect(), leave(0, true)).s;
    const { s, effects } = run(stopping, stopped());
    expect(effects).toEqual([]);
    expect(s.phase).toBe('stopped');
  });
});

describe('endpoint: computes started or stopped by name', () => {
  const observed = (running: boolean, nowMs = 0): EndpointInput => ({ type: 'observed', nowMs, running });
  it('a compute started by name is piped to but never stopped when idle', () => {
    const { s } = run(fresh(), observed(true, 500));
    expect(s).toMatchObject({ phase: 'idle', owned: false });
    expect(nextDeadlineMs(s)).toBeNull();
    const used = run(s, connect(600), leave(700));
    expect(kinds(used.effects)).toEqual(['pipe']);
    expect(run(used.s, tick(10 * MIN)).effects).toEqual([]);
  });
  it('a compute this endpoint started before it restarted stays under the idle stop', () => {
    const { s } = run(fresh(), { type: 'observed', nowMs: 500, running: true, startedByEndpoint: true });
    expect(s).toMatchObject({ phase: 'idle', owned: true });
    expect(nextDeadlineMs(s)).toBe(500 + 5 * MIN);
  });
  it('a compute stopped by name (or crashed) leaves the endpoint stopped; the next connection starts one of its own', () => {
    const s = run(activeOwned(), observed(false)).s;
    expect(s).toMatchObject({ phase: 'stopped', owned: false, piped: 1 });
    const woke = run(s, connect(), leave(), started());
    expect(woke.s).toMatchObject({ phase: 'active', piped: 1, owned: true });
  });
  it('a look in the middle of its own start or stop changes nothing', () => {
    const starting = run(fresh(), connect()).s;
    expect(run(starting, observed(false)).s).toEqual(starting);
    const stopping = run(activeOwned(), leave(1000), tick(1000 + 5 * MIN)).s;
    expect(run(stopping, observed(true)).s).toEqual(stopping);
  });
});

describe('endpoint: reports out of turn are bugs', () => {
  it('started without a start, stopped without a stop, a client leaving that never came', () => {
    expect(() => stepEndpoint(fresh(), started())).toThrow(/assertion failed: started in phase stopped/);
    expect(() => stepEndpoint(fresh(), stopped())).toThrow(/assertion failed/);
    expect(() => stepEndpoint(fresh(), leave())).toThrow(/none was piped/);
    expect(() => newEndpoint({ idleTimeoutMs: -1 })).toThrow(/non-negative/);
  });
});

describe('endpoint: any sequence of events keeps the invariants', () => {
  it('random client traffic, starts, stops, looks and ticks (property)', () => {
    const event = fc.oneof(
      fc.constant('connect' as const),
      fc.constant('leavePiped' as const),
      fc.constant('leaveHeld' as const),
      fc.constant('finish' as const),
      fc.constant('fail' as const),
      fc.boolean().map((running) => ({ observed: running })),
      fc.integer({ min: 0, max: 10_000 }).map((advanceMs) => ({ advanceMs })),
    );
    fc.assert(
      fc.property(fc.array(event, { maxLength: 200 }), fc.integer({ min: 0, max: 5000 }), (events, idleTimeoutMs) => {
        let s = newEndpoint({ idleTimeoutMs, waitingMax: 8 });
        let now = 0;
        for (const e of events) {
          let input: EndpointInput | undefined;
          if (e === 'connect') input = connect(now);
          else if (e === 'leavePiped') input = s.piped > 0 ? leave(now, false) : undefined;
          else if (e === 'leaveHeld') input = s.waiting > 0 ? leave(now, true) : undefined;
          else if (e === 'finish') input = s.phase === 'starting' ? started(now) : s.phase === 'stopping' ? stopped(now) : undefined;
          else if (e === 'fail') input = s.phase === 'starting' ? { type: 'startFailed', nowMs: now, reason: 'x' } : s.phase === 'stopping' ? { type: 'stopCancelled', nowMs: now } : undefined;
          else if ('observed' in e) input = { type: 'observed', nowMs: now, running: e.observed };
          else {
            now += e.advanceMs;
            input = tick(now);
          }
          if (input === undefined) continue;
          const r = stepEndpoint(s, input);
          s = r.state;
          assertEndpoint(s);
          // A compute is started only from stopped (or after a stop, for held clients), never twice at once.
          if (r.effects.some((x) => x.kind === 'startCompute')) expect(s.phase).toBe('starting');
          // Only an owned compute is ever stopped, and only past its idle timeout.
          if (r.effects.some((x) => x.kind === 'stopCompute')) expect(idleTimeoutMs).toBeGreaterThan(0);
        }
      }),
      { numRuns: 500 },
    );
  });
});
