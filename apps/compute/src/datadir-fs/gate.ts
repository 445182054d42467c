/**
 * FUSE operations held back until the local files are in place. The mount
 * (and mariadbd's exec and its own initialisation, ~150 ms before it first
 * touches the datadir) need not wait for the aux files to be written: only
 * an operation on the datadir must. An operation that arrives earlier waits
 * for `ready`; once it has resolved, operations run straight through. If the
 * files could not be written, every operation fails with `failErrno` (EIO):
 * mariadbd must never see a datadir without its aux files as of the LSN.
 */
import { assert } from '@strata/core';

type Op = (...args: never[]) => void;
/** fuse-native passes the reply callback last; a negative errno is a failure for every op (read and write too). */
type Reply = (errno: number) => void;

export function gateOps(ops: Record<string, Op>, ready: Promise<void>, failErrno: number, ungated: readonly string[] = ['init']): Record<string, Op> {
  assert(failErrno < 0, `failErrno ${failErrno} must be a negative errno`);
  let state: 'pending' | 'ready' | 'failed' = 'pending';
  ready.then(
    () => (state = 'ready'),
    () => (state = 'failed'),
  );
  const fail = (args: unknown[]): void => {
    const reply = args.at(-1);
    assert(typeof reply === 'function', 'a FUSE operation without its reply callback');
    (reply as Reply)(failErrno);
  };
  const out: Record<string, Op> = {};
  for (const [name, op] of Object.entries(ops)) {
    if (ungated.includes(name)) {
      out[name] = op;
      continue;
    }
    const call = (args: unknown[]): void => (op as (...a: unknown[]) => void)(...args);
    out[name] = ((...args: unknown[]) => {
      if (state === 'ready') return call(args);
      if (state === 'failed') return fail(args);
      ready.then(
        () => call(args),
        () => fail(args),
      );
    }) as Op;
  }
  return out;
}
