import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { emptyDirNow, removeAside, writeAuxFiles } from './local-dir.js';

let root: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'strata-local-dir-'));
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

describe('[DATADIR FS][LOCAL DIR] the local directory of a start', () => {
  it('an existing directory is empty at once; its old files, and leftovers of earlier starts, go on removeAside', async () => {
    const dir = join(root, 'local');
    mkdirSync(join(dir, 'mysql'), { recursive: true });
    writeFileSync(join(dir, 'mysql', 'user.MAI'), 'old');
    // A leftover of a controller killed before it removed its own.
    mkdirSync(join(root, 'local.old-1-2'));
    emptyDirNow(dir);
    expect(readdirSync(dir)).toEqual([]);
    expect(readdirSync(root).length).toBe(3);
    await removeAside(dir);
    expect(readdirSync(root)).toEqual(['local']);
  });

  it('a missing directory is created; with nothing aside, removeAside does nothing', async () => {
    const dir = join(root, 'a', 'local');
    emptyDirNow(dir);
    await removeAside(dir);
    expect(statSync(dir).isDirectory()).toBe(true);
  });

  it('writes every aux file with its exact bytes, in nested directories, mode 0640', async () => {
    const files = [
      { path: 'aria_log_control', data: new Uint8Array([1, 2, 3]) },
      ...Array.from({ length: 40 }, (_, i) => ({ path: `db${i % 3}/t${i}.frm`, data: new Uint8Array(1000 + i).fill(i) })),
      { path: 'mysql/sub/x.opt', data: new Uint8Array(0) },
    ];
    await writeAuxFiles(root, files);
    for (const f of files) {
      expect(new Uint8Array(readFileSync(join(root, f.path)))).toEqual(f.data);
      expect(statSync(join(root, f.path)).mode & 0o777).toBe(0o640);
    }
    expect(existsSync(join(root, 'db2', 't2.frm'))).toBe(true);
  });

  it('an empty set writes nothing', async () => {
    await writeAuxFiles(root, []);
    expect(readdirSync(root)).toEqual([]);
  });
});
