import { describe, expect, it } from 'vitest';
import { gateOps } from './gate.js';

const EIO = -5;

function deferred(): { promise: Promise<void>; resolve: () => void; reject: (e: Error) => void } {
  let resolve: () => void = () => {};
  let reject: (e: Error) => void = () => {};
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

function fakeOps(calls: string[]): Record<string, (...a: never[]) => void> {
  return {
    init: ((cb: (e: number) => void) => {
      calls.push('init');
      cb(0);
    }) as (...a: never[]) => void,
    getattr: ((path: string, cb: (e: number, st?: unknown) => void) => {
      calls.push(`getattr ${path}`);
      cb(0, { size: 1 });
    }) as (...a: never[]) => void,
    read: ((_p: string, _fd: number, _b: Buffer, len: number, _pos: number, cb: (n: number) => void) => {
      calls.push('read');
      cb(len);
    }) as (...a: never[]) => void,
  };
}

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('[DATADIR FS][GATE] no operation touches the datadir before its local files are written', () => {
  it('an operation before ready waits for it, in arrival order; init never waits', async () => {
    const calls: string[] = [];
    const d = deferred();
    const ops = gateOps(fakeOps(calls), d.promise, EIO);
    const replies: unknown[][] = [];
    (ops['init'] as (cb: (e: number) => void) => void)((e) => replies.push(['init', e]));
    (ops['getattr'] as (p: string, cb: (...r: unknown[]) => void) => void)('/a', (...r) => replies.push(['getattr', ...r]));
    (ops['read'] as (p: string, fd: number, b: Buffer, l: number, pos: number, cb: (n: number) => void) => void)('/a', 3, Buffer.alloc(4), 4, 0, (n) => replies.push(['read', n]));
    await tick();
    expect(calls).toEqual(['init']);
    d.resolve();
    await tick();
    expect(calls).toEqual(['init', 'getattr /a', 'read']);
    expect(replies).toEqual([['init', 0], ['getattr', 0, { size: 1 }], ['read', 4]]);
  });

  it('once ready, an operation runs at once (no turn of the event loop)', async () => {
    const calls: string[] = [];
    const ops = gateOps(fakeOps(calls), Promise.resolve(), EIO);
    await tick();
    (ops['getattr'] as (p: string, cb: () => void) => void)('/b', () => {});
    expect(calls).toEqual(['getattr /b']);
  });

  it('files that could not be written fail every operation, waiting or later, with the errno', async () => {
    const calls: string[] = [];
    const d = deferred();
    const ops = gateOps(fakeOps(calls), d.promise, EIO);
    const got: number[] = [];
    (ops['getattr'] as (p: string, cb: (e: number) => void) => void)('/a', (e) => got.push(e));
    d.reject(new Error('disk full'));
    await tick();
    (ops['read'] as (p: string, fd: number, b: Buffer, l: number, pos: number, cb: (n: number) => void) => void)('/a', 3, Buffer.alloc(4), 4, 0, (n) => got.push(n));
    expect(got).toEqual([EIO, EIO]);
    expect(calls).toEqual([]);
  });
});
