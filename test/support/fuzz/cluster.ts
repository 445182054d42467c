/**
 * What the fuzzer runs against: a real safekeeper and a real page server
 * process (`./strata`, auth on: an Ed25519 key, tokens signed here), and the
 * compute's control port in-process.
 *
 * Why the compute is in-process: a real compute needs mariadbd, a timeline
 * with a basebackup and a proposer, ~10 s and most of a core, for a control
 * port of five routes that parse no body (status, metrics, lsn-times, stop,
 * health). Its module (apps/compute/src/app.ts) is served here with the
 * service kit's real listener and verifier over a compute that only answers
 * status: the routes, middleware and error mapper are the production ones.
 *
 * The safekeeper holds two timelines of one tenant, both written by a real
 * proposer (ProposerDriver) before fuzzing: `watched` must never change, and
 * `scratch` takes the fuzzed consensus frames (a tenant token may run
 * consensus there; its state is only read to aim the next frames). The page
 * server holds one seeded timeline (seed-timeline.test-util: one image
 * layer, no MariaDB needed).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ProposerDriver } from '@strata/client';
import { listen, type Listening, loadVerifier, memoryLogger, Registry, signToken } from '@strata/service-kit';
import { createApp as createComputeApp } from '../../../apps/compute/src/app.js';
import type { Compute, ComputeStatus } from '../../../apps/compute/src/compute.js';
import { LSN, ROOT, seedTimeline, SPACE, TENANT, OTHER } from '../../../apps/pageserver/src/seed-timeline.test-util.js';
import { freePort } from '../mariadb.js';
import { mtrs } from '../mtrs.js';
import { REPO_ROOT } from '../redo-scenario.js';
import { BRANCH_TIMELINE, SCRATCH_TENANT, SCRATCH_TENANT_TIMELINES, SCRATCH_TIMELINE, WATCHED_TIMELINE } from './routes.js';

export { LSN, OTHER, ROOT, SPACE, TENANT };

/** A service process the fuzzer watches: alive while it has not exited, and what it printed. */
export interface WatchedProcess {
  readonly name: string;
  readonly url: URL;
  readonly pid: number;
  readonly alive: boolean;
  readonly exit: string | undefined;
  output(): string;
  stop(): Promise<void>;
}

const OUTPUT_KEEP_CHARS = 200_000;

async function startProcess(name: string, command: string, args: readonly string[], port: number): Promise<WatchedProcess> {
  const child: ChildProcess = spawn(command, [...args], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  let exit: string | undefined;
  const keep = (d: Buffer) => {
    log += d.toString();
    // The tail is what explains a crash.
    if (log.length > OUTPUT_KEEP_CHARS) log = log.slice(-OUTPUT_KEEP_CHARS / 2);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<void>((r) => child.once('exit', (code, signal) => ((exit = signal ? `signal ${signal}` : `exit code ${code}`), r())));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} did not start:\n${log}`)), 60_000);
    const check = () => {
      if (log.includes('listening on')) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout?.on('data', check);
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`${name} ${exit ?? 'exited'} before listening:\n${log}`));
    });
  });
  return {
    name,
    url: new URL(`http://127.0.0.1:${port}`),
    pid: child.pid ?? -1,
    get alive() {
      return exit === undefined;
    },
    get exit() {
      return exit;
    },
    output: () => log,
    async stop() {
      if (exit !== undefined) return;
      child.kill('SIGKILL');
      await exited;
    },
  };
}

export interface Tokens {
  readonly admin: string;
  readonly tenant: string;
  readonly otherTenant: string;
  readonly scratchTenant: string;
}

export interface FuzzCluster {
  readonly dir: string;
  readonly tokens: Tokens;
  readonly safekeeper: WatchedProcess;
  readonly pageserver: WatchedProcess;
  readonly compute: { readonly url: URL; readonly stops: number };
  close(): Promise<void>;
}

export interface ClusterOptions {
  /** Run the page server from the test-only entry that plants an assertion (planted-pageserver.ts). */
  readonly plantedBug?: boolean;
}

/** Bytes of WAL each safekeeper timeline gets from the proposer before fuzzing. */
const SETUP_WAL_BYTES = 64 << 10;

export async function startCluster(opts: ClusterOptions = {}): Promise<FuzzCluster> {
  const dir = join(tmpdir(), `strata-fuzz-${process.pid}-${Date.now()}`);
  await mkdir(dir, { recursive: true });
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const privatePem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const publicPem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
  const keyFile = join(dir, 'auth.pub');
  await writeFile(keyFile, publicPem);
  const tokens: Tokens = {
    admin: await signToken(privatePem, { scope: 'admin' }, '12h'),
    tenant: await signToken(privatePem, { scope: 'tenant', tenantId: TENANT }, '12h'),
    otherTenant: await signToken(privatePem, { scope: 'tenant', tenantId: OTHER }, '12h'),
    scratchTenant: await signToken(privatePem, { scope: 'tenant', tenantId: SCRATCH_TENANT }, '12h'),
  };
  const psToken = join(dir, 'pageserver.token');
  await writeFile(psToken, await signToken(privatePem, { scope: 'pageserverapi' }, '12h'));

  const skPort = await freePort();
  const skData = join(dir, 'sk1');
  await mkdir(skData, { recursive: true });
  const strata = join(REPO_ROOT, 'strata');
  const safekeeper = await startProcess('safekeeper', strata, ['safekeeper', '--id', '1', '--listen', `127.0.0.1:${skPort}`, '--data', skData, '--auth-public-key', keyFile], skPort);

  const psPort = await freePort();
  const psData = join(dir, 'ps');
  seedTimeline(psData);
  // Background compaction and GC off: the checks compare the timeline's layers before and after each batch.
  const psArgs = ['--listen', `127.0.0.1:${psPort}`, '--data', psData, '--safekeepers', `127.0.0.1:${skPort}`, '--auth-public-key', keyFile, '--token-file', psToken, '--compaction-period-ms', '0', '--gc-period-ms', '0'];
  const pageserver = opts.plantedBug
    ? await startProcess('page server (planted bug)', process.execPath, ['--import', join(REPO_ROOT, 'node_modules/tsx/dist/loader.mjs'), join(REPO_ROOT, 'test/support/fuzz/planted-pageserver.ts'), ...psArgs], psPort)
    : await startProcess('page server', strata, ['pageserver', ...psArgs], psPort);

  const compute = await startComputeControl(keyFile);
  const cluster: FuzzCluster = {
    dir,
    tokens,
    safekeeper,
    pageserver,
    get compute() {
      return { url: compute.url, stops: compute.stops() };
    },
    async close() {
      await compute.listening.close();
      await safekeeper.stop();
      await pageserver.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
  try {
    await setupSafekeeper(safekeeper.url, tokens.admin);
    await setupBranch(safekeeper.url, pageserver.url, tokens.admin);
  } catch (e) {
    await cluster.close();
    throw e;
  }
  return cluster;
}

/**
 * Both timelines, each elected and given committed WAL by a real proposer,
 * which then goes away; and the scratch tenant's timelines, created empty
 * (fuzzed requests delete and create them again).
 */
async function setupSafekeeper(url: URL, admin: string): Promise<void> {
  for (const timelineId of SCRATCH_TENANT_TIMELINES) {
    const res = await fetch(new URL(`/v1/tenants/${SCRATCH_TENANT}/timelines`, url), {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${admin}` },
      body: JSON.stringify({ timelineId, startLsn: '1000', conf: { generation: 1, members: [1] } }),
    });
    if (res.status !== 201) throw new Error(`creating ${SCRATCH_TENANT}/${timelineId}: HTTP ${res.status} ${await res.text()}`);
  }
  for (const timelineId of [WATCHED_TIMELINE, SCRATCH_TIMELINE]) {
    const res = await fetch(new URL(`/v1/tenants/${TENANT}/timelines`, url), {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${admin}` },
      body: JSON.stringify({ timelineId, startLsn: '1000', conf: { generation: 1, members: [1] } }),
    });
    if (res.status !== 201) throw new Error(`creating ${timelineId}: HTTP ${res.status} ${await res.text()}`);
    const d = new ProposerDriver({ tenantId: TENANT, timelineId, proposerId: 7, safekeepers: [{ nodeId: 1, baseUrl: url.origin }], token: admin, heartbeatMs: 100 });
    try {
      await d.waitElected(20_000);
      let lsn = d.endLsn;
      for (let i = 0; i < 8; i++) {
        const data = mtrs(SETUP_WAL_BYTES / 8, i);
        d.append(lsn, data);
        lsn += BigInt(data.length);
      }
      await d.waitCommitted(lsn, 20_000);
      // The commit LSN reaches the safekeeper with the next append or heartbeat.
      const deadline = Date.now() + 20_000;
      for (;;) {
        const st = (await (await fetch(new URL(`/v1/tenants/${TENANT}/timelines/${timelineId}`, url), { headers: { authorization: `Bearer ${admin}` } })).json()) as { commitLsn: string };
        if (BigInt(st.commitLsn) === lsn) break;
        if (Date.now() > deadline) throw new Error(`${timelineId}: commit LSN ${st.commitLsn} never reached ${lsn}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    } finally {
      d.stop();
    }
  }
}

/**
 * The timeline both services hold: a branch of the seeded timeline at its
 * LSN on the page server, and on the safekeeper a timeline starting there,
 * from which the page server's WAL receiver streams what gets committed.
 */
async function setupBranch(skUrl: URL, psUrl: URL, admin: string): Promise<void> {
  const post = (url: URL, path: string, body: unknown) =>
    fetch(new URL(path, url), { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${admin}` }, body: JSON.stringify(body) });
  const branched = await post(psUrl, `/v1/tenants/${TENANT}/timelines/${ROOT}/branch`, { lsn: String(LSN), newTimelineId: BRANCH_TIMELINE });
  if (branched.status !== 201) throw new Error(`branching ${ROOT}: HTTP ${branched.status} ${await branched.text()}`);
  const created = await post(skUrl, `/v1/tenants/${TENANT}/timelines`, { timelineId: BRANCH_TIMELINE, startLsn: String(LSN), conf: { generation: 1, members: [1] } });
  if (created.status !== 201) throw new Error(`creating ${BRANCH_TIMELINE}: HTTP ${created.status} ${await created.text()}`);
}

/** The control port's app (production module) over a compute that answers status and counts stops. */
async function startComputeControl(publicKeyFile: string): Promise<{ url: URL; listening: Listening; stops(): number }> {
  let stops = 0;
  // Asserted, not declared: the control port only serializes it, and a field added to ComputeStatus must not break the fuzzer.
  const status = {
    name: 'fuzz',
    mode: 'read-write',
    storage: 'basebackup',
    datadirFs: null,
    state: 'running',
    tenantId: TENANT,
    timelineId: WATCHED_TIMELINE,
    port: 0,
    controllerPid: process.pid,
    mariadbdPid: 0,
    startLsn: '1000',
    term: '1',
    shipper: null,
    auxSetsStored: 0,
    lastAuxLsn: null,
    auxCurrentAtMs: null,
    error: null,
  } as ComputeStatus;
  const compute: Compute = {
    name: 'fuzz',
    port: 0,
    mariadbdPid: 0,
    startLsn: 1000n,
    connectionUrl: 'mysql://fuzz@127.0.0.1:0/',
    datadir: '/nonexistent',
    metrics: new Registry(),
    status: () => status,
    stamps: () => [{ lsn: 1000n, unixMs: 1_700_000_000_000 }],
    stop: () => Promise.resolve({ lsn: 1000n }),
    done: new Promise(() => undefined),
  };
  const verifier = await loadVerifier({ publicKeyFile });
  const app = createComputeApp({ compute, onStop: () => void stops++, verifier, log: memoryLogger() });
  const listening = await listen(app.fetch, { host: '127.0.0.1', port: 0 });
  return { url: new URL(listening.url), listening, stops: () => stops };
}
