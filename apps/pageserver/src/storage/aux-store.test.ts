import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openRemoteStorage } from '@strata/remote-storage';
import { listFiles } from '@strata/datadir';
import { AuxStore, tablespacesAt, unpackAuxSet } from './aux-store.js';
import { LayerManager } from './layer-manager.js';
import { seededDir } from './synthetic-wal.test-util.js';
import type { TablespaceEvent } from './timeline-meta.js';
import { readMeta } from './timeline-meta.js';
import { RemoteTimeline } from './remote-timeline.js';

const bytes = (s: string) => new TextEncoder().encode(s);

describe('tablespacesAt', () => {
  const events: TablespaceEvent[] = [
    { lsn: 10n, kind: 'create', spaceId: 1, path: 'db/a.ibd' },
    { lsn: 20n, kind: 'rename', spaceId: 1, path: 'db/b.ibd' },
    { lsn: 30n, kind: 'create', spaceId: 2, path: 'db/c.ibd' },
    { lsn: 40n, kind: 'delete', spaceId: 1, path: 'db/b.ibd' },
  ];
  it('replays create, rename and delete up to the LSN', () => {
    expect(tablespacesAt(events, 9n)).toEqual(new Map());
    expect(tablespacesAt(events, 10n)).toEqual(new Map([[1, 'db/a.ibd']]));
    expect(tablespacesAt(events, 25n)).toEqual(new Map([[1, 'db/b.ibd']]));
    expect(tablespacesAt(events, 40n)).toEqual(new Map([[2, 'db/c.ibd']]));
  });
});

describe('AuxStore', () => {
  let dataDir: string;
  let timelineDir: string;
  beforeEach(() => ({ dataDir, timelineDir } = seededDir('strata-aux-')));
  afterEach(() => rmSync(dataDir, { recursive: true, force: true }));

  it('stores a set whole, lists it in the index, and finds the newest set at or below an LSN', () => {
    const lm = LayerManager.load(timelineDir, undefined);
    const aux = new AuxStore(lm, undefined, undefined);
    expect(aux.auxDirAt(1_000_000n)).toBeUndefined();
    expect(aux.putAuxSet(200n, [{ path: 'db/t.frm', data: bytes('old') }, { path: 'mysql/db.MAI', data: bytes('x') }])).toBe(2);
    expect(aux.putAuxSet(100n, [{ path: 'db/t.frm', data: bytes('older') }])).toBe(1);
    expect(readMeta(timelineDir).auxSets).toEqual([100n, 200n]);
    expect(aux.auxDirAt(99n)).toBeUndefined();
    expect(aux.auxDirAt(150n)).toBe(join(timelineDir, 'aux', '100'));
    expect(readFileSync(join(aux.auxDirAt(250n)!, 'db/t.frm'), 'utf8')).toBe('old');
    // Stored again at the same LSN: replaced whole, the index unchanged. Storing writes one tar; the
    // files appear only when the set is first read.
    aux.putAuxSet(200n, [{ path: 'db/t.frm', data: bytes('new') }]);
    expect(existsSync(join(timelineDir, 'aux', '200'))).toBe(false);
    expect(existsSync(join(timelineDir, 'aux', '200.tar'))).toBe(true);
    expect(aux.auxDirAt(200n)).toBe(join(timelineDir, 'aux', '200'));
    expect(existsSync(join(timelineDir, 'aux', '200', 'mysql/db.MAI'))).toBe(false);
    expect(readFileSync(join(timelineDir, 'aux', '200', 'db/t.frm'), 'utf8')).toBe('new');
    expect(readMeta(timelineDir).auxSets).toEqual([100n, 200n]);
    lm.close();
  });

  it('a set goes to remote storage as one object; stored again at its LSN, the newest version goes up and restores, the files it dropped do not', async () => {
    const remoteDir = join(dataDir, 'remote');
    const storage = openRemoteStorage(`file://${remoteDir}`);
    const remote = new RemoteTimeline(storage, 'tl', { backoffBaseMs: 10, backoffMaxMs: 20 });
    const lm = LayerManager.load(timelineDir, undefined);
    const aux = new AuxStore(lm, remote, undefined);
    // MariaDB's start-up probe (<host>.lower-test) is written and removed before any redo: one LSN, two sets.
    aux.putAuxSet(300n, [{ path: 'db/t.frm', data: bytes('v1') }, { path: 'vm.lower-test', data: bytes('') }]);
    aux.putAuxSet(300n, [{ path: 'db/t.frm', data: bytes('v2') }, { path: 'mysql/db.MAI', data: bytes('m') }]);
    // A compute stores a set per DDL, each a few hundred files: one object each, not one per file.
    for (let lsn = 400n; lsn < 420n; lsn++) aux.putAuxSet(lsn, Array.from({ length: 200 }, (_, i) => ({ path: `mysql/f${i}.MAD`, data: bytes(`${lsn}:${i}`) })));
    await remote.drain();
    const st = remote.snapshot();
    expect(st.failures).toBe(0);
    expect(st.uploadedFiles).toBeLessThanOrEqual(22);
    const keys = await storage.list('tl/aux/');
    expect(keys).toContain('tl/aux/300.tar');
    expect(keys.filter((k) => !k.endsWith('.tar'))).toEqual([]);
    const restored = join(dataDir, 'restored');
    unpackAuxSet((await storage.get('tl/aux/300.tar'))!, restored);
    expect(listFiles(restored).sort()).toEqual(['db/t.frm', 'mysql/db.MAI']);
    expect(readFileSync(join(restored, 'db/t.frm'), 'utf8')).toBe('v2');
    unpackAuxSet((await storage.get('tl/aux/419.tar'))!, join(dataDir, 'r419'));
    expect(readFileSync(join(dataDir, 'r419', 'mysql/f199.MAD'), 'utf8')).toBe('419:199');
    lm.close();
  });

  it('below its own first set, a branch reads its ancestor at the branch point', () => {
    const lm = LayerManager.load(timelineDir, undefined);
    lm.update({ ancestor: { timelineId: '00000000000000000000000000000002', lsn: 500n } }, false);
    const asked: bigint[] = [];
    const aux = new AuxStore(lm, undefined, { auxDirAt: (lsn) => (asked.push(lsn), '/ancestor/aux') });
    expect(aux.auxDirAt(1_000n)).toBe('/ancestor/aux');
    expect(asked).toEqual([500n]);
    aux.putAuxSet(600n, []);
    expect(aux.auxDirAt(1_000n)).toBe(join(timelineDir, 'aux', '600'));
    lm.close();
  });

  it('a path that leaves the set is a bug (an assertion), not a file outside it', () => {
    const lm = LayerManager.load(timelineDir, undefined);
    const aux = new AuxStore(lm, undefined, undefined);
    expect(() => aux.putAuxSet(100n, [{ path: '../escape', data: bytes('x') }])).toThrow(/leaves/);
    expect(existsSync(join(timelineDir, 'aux', 'escape'))).toBe(false);
    lm.close();
  });
});
