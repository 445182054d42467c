/**
 * Issue 14, architecture: the console's mutations call the services' APIs
 * (@strata/client/local, the code the CLI runs too) and never run the
 * `strata` CLI. Against a real local cluster, the console is given a
 * repository root without `strata` (a regression that ran the CLI fails with
 * ENOENT), and every process it spawns is recorded: branches, snapshots, a
 * membership change, computes, a time-travel query and a safekeeper node
 * added and removed all work, and none of the recorded processes is the
 * CLI. The compute controller is spawned directly (apps/compute's own
 * program), and what the console did is what the CLI then sees.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { createRequire, syncBuiltinESMExports } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addOperator, createHarness, REPO_ROOT, type Harness } from '../testing/harness';
import type { OperationOut } from './shapes';

/** The CommonJS face of node:child_process: replacing its functions and syncing changes what every ESM importer calls. */
const childProcess = createRequire(import.meta.url)('node:child_process') as Record<string, unknown>;
const SPAWNERS = ['spawn', 'execFile', 'exec', 'fork', 'spawnSync', 'execFileSync', 'execSync'] as const;

/** Records every child process started in this process until `stop()`: its command and arguments. */
function recordSpawns(): { calls: string[][]; stop: () => void } {
  const calls: string[][] = [];
  const originals = new Map<string, unknown>();
  for (const name of SPAWNERS) {
    const original = childProcess[name];
    if (typeof original !== 'function') continue;
    originals.set(name, original);
    childProcess[name] = function (this: unknown, ...args: unknown[]): unknown {
      calls.push(args.flatMap((a) => (typeof a === 'string' ? [a] : Array.isArray(a) ? a.filter((x): x is string => typeof x === 'string') : [])));
      return (original as (...a: unknown[]) => unknown).apply(this, args);
    };
  }
  syncBuiltinESMExports();
  return {
    calls,
    stop() {
      for (const [name, original] of originals) childProcess[name] = original;
      syncBuiltinESMExports();
    },
  };
}

/** The CLI: `<root>/strata`, its bundle or its source. */
const isCli = (call: readonly string[]) => call.some((a) => /(^|\/)strata$/.test(a) || a.includes('apps/cli/'));

describe('[NO CLI] the console drives a real cluster through the services, never through ./strata', () => {
  let h: Harness;
  let admin: string;
  let rootWithoutCli: string;
  let spawns: ReturnType<typeof recordSpawns>;

  async function settled(op: OperationOut): Promise<OperationOut> {
    await h.deps.background.idle();
    return h.caller(admin).operations.get({ id: op.id });
  }

  async function finished(op: Promise<OperationOut>): Promise<OperationOut> {
    const done = await settled(await op);
    expect(done, JSON.stringify(done)).toMatchObject({ status: 'finished' });
    return done;
  }

  beforeAll(async () => {
    h = await createHarness({ cluster: true });
    await addOperator(h.deps, { username: 'admin', password: 'correct horse', role: 'admin' });
    admin = await h.signIn('admin', 'correct horse');
    // The repository as the console sees it: its apps and packages, but no `strata`.
    rootWithoutCli = mkdtempSync(join(tmpdir(), 'console-no-cli-'));
    for (const d of ['apps', 'packages', 'node_modules']) symlinkSync(join(REPO_ROOT, d), join(rootWithoutCli, d));
    h.deps.repoRoot = rootWithoutCli;
    spawns = recordSpawns();
  });

  afterAll(async () => {
    spawns?.stop();
    await h?.close();
    if (rootWithoutCli) rmSync(rootWithoutCli, { recursive: true, force: true });
  });

  it('[BRANCHES][SNAPSHOTS][MEMBERSHIP][COMPUTES][NODES] every mutation works and no process the console started is the CLI', async () => {
    // Branch create at head, then delete.
    const created = await finished(h.caller(admin).branches.create({ from: 'main', name: 'nocli' }));
    expect(created.steps.map((s) => s.status)).toEqual(['finished', 'finished']);
    expect(created.steps[0]!.detail).toMatch(/^timeline [0-9a-f]{32} at LSN \d+$/);
    const nocli = (await h.caller(admin).branches.list()).find((b) => b.name === 'nocli');
    expect(nocli).toMatchObject({ parent: 'main' });

    // A refusal keeps its typed code.
    const dup = await settled(await h.caller(admin).branches.create({ from: 'main', name: 'nocli' }));
    expect(dup).toMatchObject({ status: 'failed', errorCode: 'CONFLICT' });

    // Snapshot create, restore as a branch, delete.
    await finished(h.caller(admin).snapshots.create({ branch: 'nocli', name: 'snap1' }));
    expect((await h.caller(admin).snapshots.list()).map((s) => [s.name, s.branch])).toEqual([['snap1', 'nocli']]);
    const restored = await finished(h.caller(admin).snapshots.restore({ name: 'snap1', branch: 'from-snap1' }));
    expect(restored.result).toMatchObject({ name: 'from-snap1', lsn: nocli!.lsn });
    await finished(h.caller(admin).snapshots.delete({ name: 'snap1' }));
    expect(await h.caller(admin).snapshots.list()).toEqual([]);

    // A membership change of main's timeline (its compute runs), with a step per phase.
    const main = (await h.caller(admin).safekeepers.overview()).timelines.find((t) => t.branch === 'main')!;
    const shrink = await finished(h.caller(admin).safekeepers.changeMembership({ timelineId: main.timelineId, members: [1, 2] }));
    expect(shrink.steps.every((s) => s.status === 'finished')).toBe(true);
    expect(shrink.steps.at(-1)!.detail).toMatch(/^generation \d+ members 1,2$/);
    expect(shrink.steps.some((s) => s.detail?.startsWith('phase: '))).toBe(true);
    await finished(h.caller(admin).safekeepers.changeMembership({ timelineId: main.timelineId, members: [1, 2, 3] }));
    const m1 = (await h.caller(admin).safekeepers.overview()).timelines.find((t) => t.branch === 'main')!.members.find((m) => m.nodeId === 1)!;
    expect(m1.members).toEqual([1, 2, 3]);

    // A read-write compute on the new branch: started, answers SQL, a second start says it runs, stopped.
    const started = await finished(h.caller(admin).computes.start({ branch: 'nocli' }));
    expect(started.result).toMatchObject({ name: 'nocli', alreadyRunning: false });
    const url = (await h.caller(admin).computes.connection({ name: 'nocli' })).connectionUrl;
    const conn = await mysql.createConnection({ uri: url });
    const [rows] = await conn.query<mysql.RowDataPacket[]>('SELECT 1 + 1 AS two');
    await conn.end();
    expect(rows[0]!['two']).toBe(2);
    const again = await finished(h.caller(admin).computes.start({ branch: 'nocli' }));
    expect(again.result).toMatchObject({ name: 'nocli', alreadyRunning: true });
    // Branch delete stops the branch's compute first (its own step), then deletes the timeline.
    await finished(h.caller(admin).computes.stop({ name: 'nocli' }));
    expect((await h.caller(admin).computes.list()).some((c) => c.name === 'nocli')).toBe(false);

    // A time-travel query: an ephemeral read-only compute at an LSN, started and stopped by the console.
    const tt = await h.caller(admin).timeTravel.query({ branch: 'main', lsn: nocli!.lsn!, sql: 'SELECT 1 AS one' });
    expect(tt.rows).toEqual([['1']]);

    await finished(h.caller(admin).branches.delete({ name: 'from-snap1' }));
    await finished(h.caller(admin).branches.delete({ name: 'nocli' }));
    expect((await h.caller(admin).branches.list()).map((b) => b.name)).toEqual(['main']);

    // A safekeeper node added and removed: processes started and restarted on this host, not by the CLI.
    const added = await finished(h.caller(admin).safekeepers.add({}));
    expect(added.result).toMatchObject({ id: 4 });
    expect((await h.caller(admin).safekeepers.overview()).nodes.map((n) => [n.id, n.healthy])).toEqual([[1, true], [2, true], [3, true], [4, true]]);
    const refused = await settled(await h.caller(admin).safekeepers.remove({ nodeId: 1 }));
    expect(refused).toMatchObject({ status: 'failed', errorCode: 'CONFLICT', errorMessage: expect.stringContaining('is a member of branch main') });
    await finished(h.caller(admin).safekeepers.remove({ nodeId: 4 }));
    expect((await h.caller(admin).safekeepers.overview()).nodes.map((n) => n.id)).toEqual([1, 2, 3]);

    await h.deps.background.idle();
    spawns.stop();
    expect(spawns.calls.filter(isCli)).toEqual([]);
    // The recorder saw the computes' controllers and the services it restarted, so it was recording.
    expect(spawns.calls.filter((c) => c.some((a) => /apps\/compute\/(src\/bin\.ts|dist\/compute\.mjs)$/.test(a))).length).toBeGreaterThanOrEqual(2);
    const daemons = spawns.calls.filter((c) => c.some((a) => /apps\/(safekeeper|pageserver|compute)\//.test(a)));
    expect(daemons.filter((c) => c.some((a) => /apps\/(safekeeper|pageserver)\//.test(a))).length).toBeGreaterThanOrEqual(4);
    // By the repository's real path, so `strata down` knows them for the cluster's own (and stops them).
    expect(daemons.filter((c) => !c.some((a) => a.startsWith(`${REPO_ROOT}apps/`)))).toEqual([]);
  });

  it('[INTEROP] what the console did, the CLI sees: its branches in cluster.json', async () => {
    await finished(h.caller(admin).branches.create({ from: 'main', name: 'seen-by-cli' }));
    const { stdout } = await promisify(execFile)(join(REPO_ROOT, 'strata'), ['branch', 'list'], { cwd: REPO_ROOT, env: { ...process.env, STRATA_HOME: h.home }, timeout: 120_000 });
    expect(stdout).toMatch(/^branch seen-by-cli timeline [0-9a-f]{32} parent main lsn \d+$/m);
  });
});
