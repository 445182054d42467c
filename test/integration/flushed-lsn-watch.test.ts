/**
 * The tailing shipper's gate against a real mariadbd: FlushedLsnWatch reads
 * Innodb_lsn_flushed, follows it as commits are flushed, and opens (with one
 * log line) when the server cannot be asked.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FlushedLsnWatch } from '../../apps/compute/src/flushed-lsn-watch.js';
import { installDatadir, makeTempDir, type MariadbServer, removeTempDir, startMariadb } from '../support/mariadb.js';
import { until } from '../support/until.js';

let dir: string;
let server: MariadbServer;

beforeAll(async () => {
  dir = await makeTempDir('flushed-lsn');
  const datadir = join(dir, 'data');
  await installDatadir(datadir);
  server = await startMariadb(datadir);
});
afterAll(async () => {
  await server?.shutdown();
  await removeTempDir(dir);
});

async function flushedNow(): Promise<bigint> {
  const rows = await server.query("SHOW GLOBAL STATUS LIKE 'Innodb_lsn_flushed'");
  return BigInt(String(rows[0]!['Value']));
}

describe('FlushedLsnWatch', () => {
  it('holds at the start LSN until activated, then follows Innodb_lsn_flushed as commits are flushed', async () => {
    const watch = new FlushedLsnWatch(1n, () => server.connect(), () => undefined);
    let changes = 0;
    watch.onChange(() => void changes++);
    expect(watch.current()).toBe(1n);
    watch.refresh();
    await new Promise((r) => setTimeout(r, 100));
    // Not asked before the server is declared ready.
    expect(watch.current()).toBe(1n);
    watch.activate();
    await until('a first answer', async () => watch.current()! > 1n, 10_000);
    const first = watch.current()!;
    expect(first).toBeLessThanOrEqual(await flushedNow());
    expect(changes).toBe(1);
    await server.query('CREATE DATABASE IF NOT EXISTS w');
    await server.query('CREATE TABLE w.t (id INT PRIMARY KEY, v VARCHAR(200))');
    for (let i = 0; i < 20; i++) await server.query(`INSERT INTO w.t VALUES (${i}, REPEAT('x', 200))`);
    const after = await flushedNow();
    expect(after).toBeGreaterThan(first);
    watch.refresh();
    await until('the newer flushed LSN', async () => watch.current()! >= after, 10_000);
    expect(changes).toBeGreaterThan(1);
    watch.release();
    // Released (mariadbd gone): no gate.
    expect(watch.current()).toBeUndefined();
  });

  it('opens the gate with one log line when the server refuses to answer', async () => {
    const lines: string[] = [];
    const watch = new FlushedLsnWatch(5n, () => server.connect({ password: 'not-the-password' }), (l) => lines.push(l));
    let opened = false;
    watch.onChange(() => {
      opened = watch.current() === undefined;
    });
    watch.activate();
    await until('the gate to open', async () => opened, 20_000);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/cannot read Innodb_lsn_flushed .*Access denied/);
    watch.close();
  });
});
