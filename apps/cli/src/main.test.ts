/**
 * The `./strata` CLI contract, driven through the real executable.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const fixtureLog = `${root}fixtures/innodb-10.11/ib_logfile0.first64k`;

function strata(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return strataIn(undefined, ...args);
}

/** With STRATA_HOME set (never the repository's own .strata: these tests start no cluster). */
function strataIn(home: string | undefined, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(`${root}strata`, args, { cwd: root, env: { ...process.env, ...(home ? { STRATA_HOME: home } : {}), STRATA_TOKEN: '' } }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

describe('strata redo dump', () => {
  it('prints every mtr with start/end LSN and its records', async () => {
    const r = await strata('redo', 'dump', fixtureLog, '--from', '50841');
    expect(r.code).toBe(0);
    const mtrLines = r.stdout.split('\n').filter((l) => l.startsWith('mtr '));
    expect(mtrLines).toHaveLength(110);
    expect(mtrLines[0]).toBe('mtr 50841..51015 len 174 records 32');
    expect(r.stdout).toMatch(/^ {2}WRITE +space 0 page 243 offset 11001 len 1$/m);
    expect(r.stdout).toMatch(/^ {2}EXTENDED\/INSERT_HEAP_DYNAMIC +space 5 page 3 len \d+$/m);
    expect(r.stdout).toMatch(/end of log at 55516/);
  });

  it('--json prints one object per mtr, LSNs as decimal strings, then the end', async () => {
    const r = await strata('redo', 'dump', fixtureLog, '--from', '50841', '--json');
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines).toHaveLength(111);
    expect(lines[0]).toMatchObject({ startLsn: '50841', endLsn: '51015', length: 174 });
    expect((lines[0]!['records'] as unknown[])[0]).toEqual({ type: 'WRITE', spaceId: 0, pageNo: 0, offset: 117, payloadLength: 1 });
    expect(lines[110]).toEqual({ end: { lsn: '55516', reason: 'byte 0x00 cannot start an mtr', mtrs: 110 } });
  });

  it('starts at the checkpoint by default', async () => {
    const r = await strata('redo', 'dump', fixtureLog);
    expect(r.stdout).toMatch(/^checkpoint 55500 end_lsn 55500/m);
    expect(r.stdout.split('\n').filter((l) => l.startsWith('mtr '))).toEqual(['mtr 55500..55516 len 16 records 1']);
  });

  it('fails clearly on a missing file, a bad LSN and an unknown command', async () => {
    const missing = await strata('redo', 'dump', '/nonexistent/ib_logfile0');
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/no such file/);
    const bad = await strata('redo', 'dump', fixtureLog, '--from', 'abc');
    expect(bad.code).toBe(64);
    expect(bad.stderr).toMatch(/--from takes a decimal LSN/);
    const unknown = await strata('frobnicate');
    expect(unknown.code).toBe(64);
  });

  it('names the LSN when asked to start where the log no longer is', async () => {
    const r = await strata('redo', 'dump', fixtureLog, '--from', '100');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/LSN_OUT_OF_RANGE: LSN 100/);
  });
});

describe('local cluster commands without a cluster', () => {
  it('say that there is no cluster and how to get one, and refuse unknown flags', async () => {
    const home = mkdtempSync(join(tmpdir(), 'strata-cli-home-'));
    try {
      for (const args of [['status'], ['branch', 'list'], ['snapshot', 'list'], ['compute', 'start', '--branch', 'main']]) {
        const r = await strataIn(home, ...args);
        expect(r.code, args.join(' ')).toBe(1);
        expect(r.stderr).toMatch(/no local cluster in .*strata-cli-home-.*: run \.\/strata up first/);
      }
      const bad = await strataIn(home, 'up', '--bogus');
      expect(bad.code).toBe(64);
      expect(bad.stderr).toMatch(/bogus/);
      expect(readdirSync(home)).toEqual([]);
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });
});
