import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openRemoteStorage } from '@strata/remote-storage';
import { AuxStore, tablespacesAt } from './aux-store.js';
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
    // Stored again at the same LSN: replaced whole, the index unchanged.
    aux.putAuxSet(200n, [{ path: 'db/t.frm', data: bytes('new') }]);
    expect(existsSync(join(timelineDir, 'aux', '200', 'mysql/db.MAI'))).toBe(false);
    expect(readFileSync(join(timelineDir, 'aux', '200', 'db/t.frm'), 'utf8')).toBe('new');
    expect(readMeta(timelineDir).auxSets).toEqual([100n, 200n]);
    lm.close();
  });

  it('a set stored again at its LSN: a file it no longer holds is deleted from remote storage, and its queued upload is dropped, not retried forever', async () => {
    const remoteDir = join(dataDir, 'remote');
    const storage = openRemoteStorage(`file://${remoteDir}`);
    const remote = new RemoteTimeline(storage, 'tl', { backoffBaseMs: 10, backoffMaxMs: 20 });
    const lm = LayerManager.load(timelineDir, undefined);
    const aux = new AuxStore(lm, remote, undefined);
    // MariaDB's start-up probe (<host>.lower-test) is written and removed before any redo: one LSN, two sets.
    aux.putAuxSet(300n, [{ path: 'db/t.frm', data: bytes('v1') }, { path: 'vm.lower-test', data: bytes('') }]);
    aux.putAuxSet(300n, [{ path: 'db/t.frm', data: bytes('v2') }]);
    await remote.drain();
    expect(remote.snapshot().failures).toBe(0);
    expect(new TextDecoder().decode(await storage.get('tl/aux/300/db/t.frm'))).toBe('v2');
    expect(await storage.list('tl/aux/')).toEqual(['tl/aux/300/db/t.frm']);
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
