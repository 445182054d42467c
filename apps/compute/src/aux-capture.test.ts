import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AuxCapture, type AuxCaptureOptions } from './aux-capture.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'aux-capture-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** A capture over `dir` with a redo position the test moves and a store it can hold or fail. */
function setup(over: Partial<AuxCaptureOptions> = {}) {
  const redo = { written: 1000n };
  const stores: bigint[] = [];
  let hold: Promise<void> | undefined;
  let failures = 0;
  const capture = new AuxCapture({
    dir,
    writtenLsn: () => redo.written,
    waitCommitted: async () => {},
    store: async (lsn) => {
      await hold;
      if (failures > 0) {
        failures--;
        throw new Error('page server down');
      }
      stores.push(lsn);
      return 1;
    },
    log: () => {},
    ...over,
  });
  return {
    capture,
    redo,
    stores,
    holdStores(): () => void {
      let release!: () => void;
      hold = new Promise((r) => (release = r));
      return () => {
        hold = undefined;
        release();
      };
    },
    failNext(n: number): void {
      failures = n;
    },
  };
}

const frm = (name: string, body = 'x'): void => writeFileSync(join(dir, `${name}.frm`), body);

describe('AuxCapture (told of every change)', () => {
  it('an fsync begun after a change waits until the set is stored, under the LSN written when the change happened', async () => {
    const t = setup();
    const release = t.holdStores();
    frm('t1');
    t.capture.changed();
    // The redo moves on before the store runs: the set keeps the change's own LSN.
    t.redo.written = 5000n;
    let settled = false;
    const fsync = t.capture.settled().then(() => (settled = true));
    await new Promise((r) => setTimeout(r, 20));
    expect(settled).toBe(false);
    expect(t.capture.pending).toBe(1);
    release();
    await fsync;
    expect(t.stores).toEqual([1000n]);
    expect(t.capture.pending).toBe(0);
    await t.capture.stop();
  });

  it('with nothing changed an fsync does not wait, nothing is stored, and no timer runs (an idle compute does nothing)', async () => {
    const t = setup();
    await t.capture.settled();
    await new Promise((r) => setTimeout(r, 30));
    expect(t.stores).toEqual([]);
    expect(t.capture.currentAtMs).toBeGreaterThan(Date.now() - 1000);
    await t.capture.stop();
  });

  it('a failed store is retried; fsyncs wait through it', async () => {
    const t = setup();
    t.failNext(1);
    frm('t2');
    t.capture.changed();
    await t.capture.settled();
    expect(t.stores).toEqual([1000n]);
    await t.capture.stop();
  });

  it('a change during a store gets its own set, stamped when it happened', async () => {
    const t = setup();
    const release = t.holdStores();
    frm('a');
    t.capture.changed();
    await new Promise((r) => setTimeout(r, 5));
    t.redo.written = 2000n;
    frm('b');
    t.capture.changed();
    t.redo.written = 3000n;
    const fsync = t.capture.settled();
    release();
    await fsync;
    expect(t.stores).toEqual([1000n, 2000n]);
    await t.capture.stop();
  });

  it('the final set at a clean stop is stored at the given LSN', async () => {
    const t = setup();
    frm('z');
    await t.capture.storeFinal(9000n);
    expect(t.stores).toEqual([9000n]);
  });
});

describe('AuxCapture (polling a local datadir)', () => {
  it('finds a change by itself', async () => {
    const t = setup({ pollMs: 10 });
    frm('p');
    await new Promise((r) => setTimeout(r, 100));
    expect(t.stores.length).toBe(1);
    await t.capture.stop();
  });
});
