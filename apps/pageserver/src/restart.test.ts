/**
 * A restart reloads the layer map from each timeline's index alone: layer
 * files are opened and read only when a page needs them, so start-up does
 * not grow with the data. Proven by damaging a layer's page bytes: the page
 * server still opens, and only a read of that page finds the damage.
 */
import { mkdtempSync, openSync, readdirSync, rmSync, statSync, writeSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CorruptFrame } from '@strata/core';
import { memoryLogger } from '@strata/service-kit';
import { LSN, ROOT, seedTimeline, SPACE, TENANT } from './seed-timeline.test-util.js';
import { TenantManager } from './tenant-manager.js';

describe('restart', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'strata-ps-restart-'));
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it('loads the layer map without reading layer contents: damaged page bytes surface only when that page is read', () => {
    seedTimeline(dataDir);
    const layersDir = join(dataDir, 'tenants', TENANT, 'timelines', ROOT, 'layers');
    const [name] = readdirSync(layersDir);
    const path = join(layersDir, name!);
    // Overwrite bytes in the middle of the values (past the header, before the index at the end).
    const fd = openSync(path, 'r+');
    try {
      writeSync(fd, new Uint8Array(64).fill(0xee), 0, 64, Math.floor(statSync(path).size / 3));
    } finally {
      closeSync(fd);
    }
    const m = TenantManager.open({ dataDir, log: memoryLogger() });
    try {
      const t = m.get(TENANT, ROOT);
      expect(t.layers).toHaveLength(1);
      expect(t.lastRecordLsn).toBe(LSN);
      const reads = [0, 1, 3].map((pageNo) => {
        try {
          t.getPageRaw({ spaceId: SPACE, pageNo }, LSN);
          return 'ok';
        } catch (e) {
          return e instanceof CorruptFrame ? 'corrupt' : String(e);
        }
      });
      expect(reads).toContain('corrupt');
    } finally {
      m.close();
    }
  });
});
