/**
 * `strata`: the command line of a Strata cluster. The process entry is
 * `bin.ts` (built to apps/cli/dist/strata.mjs, which `./strata` runs).
 */
import { parseArgs } from 'node:util';
import { MembershipChangeFailed } from '@strata/client';
import { localAdminToken } from '@strata/client/local';
import { COMPUTE_START_FLAGS } from '@strata/compute';
import { cmdRedoApply, cmdRedoDump } from './commands/redo.js';
import { MembershipArgsError, safekeeperMembership } from './commands/safekeeper-membership.js';
import { walPush, WalPushError } from './commands/wal-push.js';
import { walRead, WalReadError } from './commands/wal-read.js';
import { basebackup, branchCreate, lsnByTimestamp, pageGet, PageserverCommandError, tenantImport, waitLsn } from './commands/pageserver-client.js';
import { ComputeCommandError, ComputeError, computeList, ControllerArgsError, computeStart, computeStop } from './commands/compute.js';
import { type ClusterState, findBranch, LocalClusterError, readCluster, requireCluster, safekeeperHostPorts, strataHome } from './local/state.js';
import { DaemonError } from './local/daemon.js';
import { type BranchPoint, branchLine, createBranch, deleteBranch } from './local/branches.js';
import { branchOfTimeline, createSnapshot, deleteSnapshot, listSnapshots, restoreSnapshot } from './local/snapshots.js';
import { startLocalCompute, stopLocalCompute } from './local/computes.js';
import { addSafekeeper, removeSafekeeper, up } from './local/up.js';
import { endpointListLines, idleSettingText, readEndpointsStatus, setIdleSeconds } from './local/endpoints.js';
import { cliEnv } from './env.js';
import { down } from './local/down.js';
import { status } from './local/status.js';
import { exitStatusFor, out, parseLsn, USAGE, UsageError } from './usage.js';

const HEX_ID = /^[0-9a-f]{32}$/;

function hexId(v: string | undefined, flag: string): string {
  if (!v) throw new UsageError(`${flag} is required`);
  if (!HEX_ID.test(v)) throw new UsageError(`${flag} must be 32 lowercase hex digits, got "${v}"`);
  return v;
}

/** STRATA_TOKEN, else the local cluster's admin token (when there is one). */
function token(): string | undefined {
  const fromEnv = cliEnv().token;
  if (fromEnv) return fromEnv;
  const c = readCluster();
  return c ? localAdminToken(c) : undefined;
}

/** The flag's value, else the local cluster's (commands act on it when no address is given). */
function orLocal(v: string | undefined, pick: (c: ClusterState) => string): string | undefined {
  if (v !== undefined) return v;
  const c = readCluster();
  return c ? pick(c) : undefined;
}

const localPageserver = (v: string | undefined) => orLocal(v, (c) => `127.0.0.1:${c.pageserver.port}`);
const localSafekeepers = (v: string | undefined) => orLocal(v, safekeeperHostPorts);
const localTenant = (v: string | undefined) => orLocal(v, (c) => c.tenantId);
/** --timeline, else --branch of the local cluster. */
function timelineOrBranch(values: { timeline?: string | undefined; branch?: string | undefined }): string {
  if (values.timeline === undefined && values.branch !== undefined) return findBranch(requireCluster(), values.branch).timelineId;
  return hexId(values.timeline, '--timeline (or --branch)');
}

async function cmdWalPush(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      safekeepers: { type: 'string' },
      tenant: { type: 'string' },
      timeline: { type: 'string' },
      branch: { type: 'string' },
      log: { type: 'string' },
      from: { type: 'string' },
      'max-mib-per-sec': { type: 'string' },
    },
  });
  if (positionals.length) throw new UsageError(`unexpected argument ${positionals[0]}`);
  const safekeepers = localSafekeepers(values.safekeepers);
  if (!safekeepers || !values.log) throw new UsageError('wal push needs --safekeepers, --tenant, --timeline and --log');
  const fromLsn = parseLsn(values.from, '--from');
  const rate = values['max-mib-per-sec'];
  if (rate !== undefined && !(/^\d+(\.\d+)?$/.test(rate) && Number(rate) > 0)) throw new UsageError(`--max-mib-per-sec takes a positive number, got "${rate}"`);
  const committed = await walPush({
    safekeepers,
    tenantId: hexId(localTenant(values.tenant), '--tenant'),
    timelineId: timelineOrBranch(values),
    logPath: values.log,
    ...(fromLsn !== undefined ? { fromLsn } : {}),
    ...(rate !== undefined ? { maxBytesPerSec: Number(rate) * 1024 * 1024 } : {}),
    ...(token() ? { token: token()! } : {}),
    log: (line) => process.stderr.write(line + '\n'),
  });
  out(`committed ${committed}`);
  return 0;
}

async function cmdWalRead(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { safekeeper: { type: 'string' }, tenant: { type: 'string' }, timeline: { type: 'string' }, branch: { type: 'string' }, from: { type: 'string' }, to: { type: 'string' }, out: { type: 'string' } },
  });
  if (positionals.length) throw new UsageError(`unexpected argument ${positionals[0]}`);
  const fromLsn = parseLsn(values.from, '--from');
  if (!values.safekeeper || fromLsn === undefined || !values.out) throw new UsageError('wal read needs --safekeeper, --tenant, --timeline, --from and --out');
  const toLsn = parseLsn(values.to, '--to');
  const end = await walRead({
    safekeeper: values.safekeeper,
    tenantId: hexId(localTenant(values.tenant), '--tenant'),
    timelineId: timelineOrBranch(values),
    fromLsn,
    ...(toLsn !== undefined ? { toLsn } : {}),
    outPath: values.out,
    ...(token() ? { token: token()! } : {}),
  });
  out(`wrote ${end - fromLsn} bytes of redo ${fromLsn}..${end} to ${values.out}`);
  return 0;
}

async function cmdMembership(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { safekeepers: { type: 'string' }, tenant: { type: 'string' }, timeline: { type: 'string' }, branch: { type: 'string' }, members: { type: 'string' }, 'timeout-ms': { type: 'string' } },
  });
  if (positionals.length) throw new UsageError(`unexpected argument ${positionals[0]}`);
  const safekeepers = localSafekeepers(values.safekeepers);
  if (!safekeepers || !values.members) throw new UsageError('safekeeper membership needs --safekeepers, --tenant, --timeline and --members');
  const timeout = values['timeout-ms'];
  if (timeout !== undefined && !/^[1-9]\d*$/.test(timeout)) throw new UsageError(`--timeout-ms takes milliseconds, got "${timeout}"`);
  const r = await safekeeperMembership({
    safekeepers,
    tenantId: hexId(localTenant(values.tenant), '--tenant'),
    timelineId: timelineOrBranch(values),
    members: values.members,
    ...(timeout !== undefined ? { timeoutMs: Number(timeout) } : {}),
    ...(token() ? { token: token()! } : {}),
    log: (line) => process.stderr.write(line + '\n'),
  });
  out(`generation ${r.generation} members ${r.members.join(',')}${r.changed ? '' : ' (unchanged)'}`);
  return 0;
}

async function cmdSafekeeper(argv: string[]): Promise<number> {
  const { main: safekeeperMain } = await import('@strata/safekeeper/main');
  return safekeeperMain(argv);
}

function positiveInt(v: string | undefined, flag: string): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v) || Number(v) > 0xffff_ffff) throw new UsageError(`${flag} takes a non-negative integer, got "${v}"`);
  return Number(v);
}

function required<T>(v: T | undefined, flag: string, cmd: string): T {
  if (v === undefined || v === '') throw new UsageError(`${cmd} needs ${flag}`);
  return v;
}

async function cmdPageserver(argv: string[]): Promise<number> {
  const { main: pageserverMain } = await import('@strata/pageserver/main');
  return pageserverMain(argv);
}

async function cmdTenantImport(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { pageserver: { type: 'string' }, datadir: { type: 'string' }, tenant: { type: 'string' } } });
  if (positionals.length) throw new UsageError(`unexpected argument ${positionals[0]}`);
  const r = await tenantImport({
    pageserver: required(values.pageserver, '--pageserver', 'tenant import'),
    datadir: required(values.datadir, '--datadir', 'tenant import'),
    tenantId: values.tenant === undefined ? undefined : hexId(values.tenant, '--tenant'),
    token: token(),
    cwd: process.cwd(),
  });
  process.stderr.write(`imported ${r.pages} pages of ${r.tablespaces} tablespaces and ${r.auxFiles} aux files\n`);
  out(`tenant ${r.tenantId} timeline ${r.timelineId} lsn ${r.lsn}`);
  return 0;
}

async function cmdWaitLsn(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { pageserver: { type: 'string' }, tenant: { type: 'string' }, timeline: { type: 'string' }, branch: { type: 'string' }, lsn: { type: 'string' }, 'timeout-ms': { type: 'string' } },
  });
  if (positionals.length) throw new UsageError(`unexpected argument ${positionals[0]}`);
  const lsn = required(parseLsn(values.lsn, '--lsn'), '--lsn', 'wait-lsn');
  const t0 = performance.now();
  const last = await waitLsn({
    pageserver: required(localPageserver(values.pageserver), '--pageserver', 'wait-lsn'),
    tenantId: hexId(localTenant(values.tenant), '--tenant'),
    timelineId: timelineOrBranch(values),
    lsn,
    timeoutMs: positiveInt(values['timeout-ms'], '--timeout-ms') ?? 300_000,
    token: token(),
  });
  out(`lsn ${lsn} ingested (last record LSN ${last}) after ${((performance.now() - t0) / 1000).toFixed(2)} s`);
  return 0;
}

async function cmdPageGet(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      pageserver: { type: 'string' },
      tenant: { type: 'string' },
      timeline: { type: 'string' },
      branch: { type: 'string' },
      space: { type: 'string' },
      page: { type: 'string' },
      lsn: { type: 'string' },
      out: { type: 'string' },
      'wait-ms': { type: 'string' },
    },
  });
  if (positionals.length) throw new UsageError(`unexpected argument ${positionals[0]}`);
  const spaceId = required(positiveInt(values.space, '--space'), '--space', 'page get');
  const pageNo = required(positiveInt(values.page, '--page'), '--page', 'page get');
  const lsn = required(parseLsn(values.lsn, '--lsn'), '--lsn', 'page get');
  const outPath = required(values.out, '--out', 'page get');
  const waitMs = positiveInt(values['wait-ms'], '--wait-ms');
  const r = await pageGet({
    pageserver: required(localPageserver(values.pageserver), '--pageserver', 'page get'),
    tenantId: hexId(localTenant(values.tenant), '--tenant'),
    timelineId: timelineOrBranch(values),
    spaceId,
    pageNo,
    lsn,
    out: outPath,
    ...(waitMs !== undefined ? { waitMs } : {}),
    token: token(),
  });
  out(`page ${spaceId}:${pageNo} at LSN ${lsn}: page LSN ${r.pageLsn}, ${r.bytes} bytes written to ${outPath}`);
  return 0;
}

async function cmdBasebackup(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { pageserver: { type: 'string' }, tenant: { type: 'string' }, timeline: { type: 'string' }, branch: { type: 'string' }, lsn: { type: 'string' }, out: { type: 'string' }, 'wait-ms': { type: 'string' } },
  });
  if (positionals.length) throw new UsageError(`unexpected argument ${positionals[0]}`);
  const outDir = required(values.out, '--out', 'basebackup');
  const waitMs = positiveInt(values['wait-ms'], '--wait-ms');
  const t0 = performance.now();
  const r = await basebackup({
    pageserver: required(localPageserver(values.pageserver), '--pageserver', 'basebackup'),
    tenantId: hexId(localTenant(values.tenant), '--tenant'),
    timelineId: timelineOrBranch(values),
    lsn: parseLsn(values.lsn, '--lsn'),
    out: outDir,
    ...(waitMs !== undefined ? { waitMs } : {}),
    token: token(),
    onProgress: (p) => {
      const pct = p.totalBytes > 0 ? ` (${Math.min(100, (100 * p.bytes) / p.totalBytes).toFixed(0)}%)` : '';
      process.stderr.write(`progress: ${(p.bytes / 1048576).toFixed(1)} of ${(p.totalBytes / 1048576).toFixed(1)} MiB${pct}, ${p.files} files\n`);
    },
  });
  out(`basebackup at LSN ${r.lsn}: ${r.files} files, ${r.bytes} bytes of tar in ${((performance.now() - t0) / 1000).toFixed(2)} s, unpacked into ${outDir}`);
  return 0;
}

function branchPoint(values: { lsn?: string | undefined; at?: string | undefined }): BranchPoint {
  if ((values.lsn === undefined) === (values.at === undefined)) throw new UsageError('give exactly one of --lsn or --at');
  if (values.at !== undefined) {
    if (Number.isNaN(Date.parse(values.at))) throw new UsageError(`--at takes an ISO time, got "${values.at}"`);
    return { at: new Date(values.at) };
  }
  return { lsn: parseLsn(values.lsn, '--lsn')! };
}

async function cmdBranchCreate(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { pageserver: { type: 'string' }, tenant: { type: 'string' }, from: { type: 'string' }, lsn: { type: 'string' }, at: { type: 'string' }, timeline: { type: 'string' }, name: { type: 'string' } },
  });
  if (positionals.length) throw new UsageError(`unexpected argument ${positionals[0]}`);
  const point = branchPoint(values);
  if (values.pageserver === undefined) {
    // The local cluster: branches by name.
    if (values.name === undefined) throw new UsageError('branch create needs --name NEW (and --from NAME)');
    const b = await createBranch(requireCluster(), required(values.from, '--from', 'branch create'), values.name, point);
    out(`branch ${b.name} timeline ${b.timelineId} lsn ${b.lsn}`);
    return 0;
  }
  const pageserver = values.pageserver;
  const tenantId = hexId(localTenant(values.tenant), '--tenant');
  const fromTimelineId = hexId(values.from, '--from');
  // The page server's LSN ↔ time map (the shipper's commit times, ingest times as a fallback) turns the time into the last LSN committed by then.
  const lsn = 'lsn' in point ? point.lsn : await lsnByTimestamp({ pageserver, tenantId, timelineId: fromTimelineId, at: point.at, token: token() });
  const r = await branchCreate({
    pageserver,
    tenantId,
    fromTimelineId,
    lsn,
    newTimelineId: values.timeline === undefined ? undefined : hexId(values.timeline, '--timeline'),
    token: token(),
  });
  out(`timeline ${r.timelineId} lsn ${r.initLsn}`);
  return 0;
}

async function cmdBranchList(argv: string[]): Promise<number> {
  if (argv.length) throw new UsageError(`unexpected argument ${argv[0]}`);
  for (const b of requireCluster().branches) out(branchLine(b));
  return 0;
}

async function cmdBranchDelete(argv: string[]): Promise<number> {
  const { positionals } = parseArgs({ args: argv, allowPositionals: true, options: {} });
  const name = positionals[0];
  if (!name || positionals.length > 1) throw new UsageError('branch delete takes one branch name');
  await deleteBranch(requireCluster(), name);
  out(`branch ${name} deleted`);
  return 0;
}

/** `branch set --branch X --idle-minutes N | --idle-seconds N`: how long the branch's endpoint lets its compute idle (0 = never). */
async function cmdBranchSet(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { branch: { type: 'string' }, 'idle-minutes': { type: 'string' }, 'idle-seconds': { type: 'string' } } });
  if (positionals.length) throw new UsageError(`unexpected argument ${positionals[0]}`);
  const branch = required(values.branch, '--branch', 'branch set');
  const minutes = positiveInt(values['idle-minutes'], '--idle-minutes');
  const seconds = positiveInt(values['idle-seconds'], '--idle-seconds');
  if ((minutes === undefined) === (seconds === undefined)) throw new UsageError('branch set needs one of --idle-minutes N or --idle-seconds N (0 = never stop the compute)');
  const idleSeconds = minutes !== undefined ? minutes * 60 : seconds!;
  if (idleSeconds > 366 * 86_400) throw new UsageError(`the idle timeout is at most 366 days, got ${idleSeconds} s`);
  await setIdleSeconds(branch, idleSeconds);
  out(`branch ${branch} idle-stop ${idleSettingText(idleSeconds)}`);
  return 0;
}

async function cmdEndpoints(sub: string | undefined, argv: string[]): Promise<number> {
  if (sub !== 'run') throw new UsageError(`unknown command: endpoints ${sub ?? ''}`);
  if (argv.length) throw new UsageError(`unexpected argument ${argv[0]}`);
  requireCluster();
  const { runEndpointProxy } = await import('./local/endpoint-proxy.js');
  return runEndpointProxy((line) => process.stderr.write(`${new Date().toISOString()} [endpoints] ${line}\n`));
}

async function cmdSnapshot(sub: string | undefined, argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { branch: { type: 'string' }, name: { type: 'string' }, lsn: { type: 'string' } } });
  const state = requireCluster();
  if (sub === 'create') {
    if (positionals.length) throw new UsageError(`unexpected argument ${positionals[0]}`);
    const snap = await createSnapshot(state, required(values.branch, '--branch', 'snapshot create'), required(values.name, '--name', 'snapshot create'), parseLsn(values.lsn, '--lsn'));
    out(`snapshot ${snap.name} branch ${branchOfTimeline(state, snap.timelineId)} lsn ${snap.lsn}`);
    return 0;
  }
  if (sub === 'list') {
    for (const snap of await listSnapshots(state)) out(`snapshot ${snap.name} branch ${branchOfTimeline(state, snap.timelineId)} lsn ${snap.lsn} created ${snap.createdAt}`);
    return 0;
  }
  const snapName = positionals[0];
  if (!snapName || positionals.length > 1) throw new UsageError(`snapshot ${sub ?? ''} takes one snapshot name`);
  if (sub === 'restore') {
    const b = await restoreSnapshot(state, snapName, required(values.name, '--name', 'snapshot restore'));
    out(`branch ${b.name} timeline ${b.timelineId} lsn ${b.lsn}`);
    return 0;
  }
  if (sub === 'delete') {
    await deleteSnapshot(state, snapName);
    out(`snapshot ${snapName} deleted`);
    return 0;
  }
  throw new UsageError(`unknown command: snapshot ${sub ?? ''}`);
}

async function cmdComputeStart(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    // The controller's own flags (@strata/compute), and a branch of the local cluster to start on.
    options: { ...COMPUTE_START_FLAGS, branch: { type: 'string' }, at: { type: 'string' } },
  });
  if (positionals.length) throw new UsageError(`unexpected argument ${positionals[0]}`);
  const readOnly = values['read-only'] ?? false;
  const lfcMib = positiveInt(values['lfc-mib'], '--lfc-mib');
  if (lfcMib !== undefined && (lfcMib < 1 || lfcMib > 1 << 20)) throw new UsageError(`--lfc-mib takes 1..${1 << 20} (MiB of the FUSE compute's local file cache), got ${lfcMib}`);
  const bufferPoolMib = positiveInt(values['buffer-pool-mib'], '--buffer-pool-mib');
  if (bufferPoolMib !== undefined && (bufferPoolMib < 8 || bufferPoolMib > 1 << 20)) throw new UsageError(`--buffer-pool-mib takes 8..${1 << 20} (MiB of InnoDB's buffer pool), got ${bufferPoolMib}`);
  const storage = values.storage;
  if (storage !== undefined && storage !== 'basebackup' && storage !== 'fuse' && storage !== 'auto') throw new UsageError(`--storage takes basebackup, fuse or auto, got "${storage}"`);
  if (values.branch !== undefined && values.pageserver === undefined) {
    // The local cluster: the compute runs in the background; this returns once it takes queries.
    if (!readOnly && (values.lsn !== undefined || values.at !== undefined)) throw new UsageError('--lsn/--at need --read-only (a read-write compute starts at the end of its branch)');
    const state = requireCluster();
    let lsn = parseLsn(values.lsn, '--lsn');
    if (values.at !== undefined) {
      if (lsn !== undefined) throw new UsageError('give one of --lsn or --at');
      if (Number.isNaN(Date.parse(values.at))) throw new UsageError(`--at takes an ISO time, got "${values.at}"`);
      const b = findBranch(state, values.branch);
      lsn = await lsnByTimestamp({ pageserver: `127.0.0.1:${state.pageserver.port}`, tenantId: state.tenantId, timelineId: b.timelineId, at: new Date(values.at), token: localAdminToken(state) });
    }
    const c = await startLocalCompute(state, { branch: values.branch, readOnly, lsn });
    out(`compute ${c.name} ${c.connectionUrl}`);
    return 0;
  }
  if (values.lsn !== undefined && !readOnly) throw new UsageError('--lsn needs --read-only (a read-write compute starts at the end of its timeline)');
  const safekeepers = localSafekeepers(values.safekeepers);
  if (!readOnly && !safekeepers) throw new UsageError('compute start needs --safekeepers (or --read-only)');
  if (values.name !== undefined && !/^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/.test(values.name)) throw new UsageError(`--name: "${values.name}" is not a simple name`);
  return computeStart({
    pageserver: required(localPageserver(values.pageserver), '--pageserver', 'compute start'),
    safekeepers,
    safekeeperDirectory: values['safekeeper-directory'],
    tenantId: hexId(localTenant(values.tenant), '--tenant'),
    timelineId: hexId(values.timeline, '--timeline'),
    port: positiveInt(values.port, '--port'),
    dataDir: values.data,
    readOnly,
    lsn: parseLsn(values.lsn, '--lsn'),
    name: values.name,
    controlPort: positiveInt(values['control-port'], '--control-port'),
    token: token(),
    dbUser: cliEnv().dbUser,
    dbPassword: cliEnv().dbPassword,
    authPublicKeyFile: values['auth-public-key'],
    storage,
    lfcMib,
    bufferPoolMib,
    out,
    log: (line) => process.stderr.write(`${new Date().toISOString()} [compute] ${line}\n`),
  });
}

async function cmdComputeStop(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { name: { type: 'string' }, branch: { type: 'string' } } });
  if (positionals.length) throw new UsageError(`unexpected argument ${positionals[0]}`);
  if ((values.name === undefined) === (values.branch === undefined)) throw new UsageError('compute stop needs one of --branch NAME or --name N');
  const name = values.branch ?? values.name!;
  if (values.branch !== undefined && readCluster() === undefined) throw new LocalClusterError('compute stop --branch needs the local cluster (run ./strata up)');
  if (readCluster() !== undefined) {
    if (!(await stopLocalCompute(name))) throw new ComputeCommandError(`no running compute named ${name}`);
  } else {
    await computeStop(name);
  }
  out(`compute ${name} stopped`);
  return 0;
}

async function cmdUp(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { s3: { type: 'boolean', default: false }, 'no-console': { type: 'boolean', default: false } } });
  if (positionals.length) throw new UsageError(`unexpected argument ${positionals[0]}`);
  const t0 = performance.now();
  const r = await up({ s3: values.s3 ?? false, console: !(values['no-console'] ?? false), log: (line) => process.stderr.write(`[up] ${line}\n`) });
  for (const line of r.lines) out(line);
  process.stderr.write(`[up] ready in ${((performance.now() - t0) / 1000).toFixed(1)} s; state and logs in ${strataHome()}; ./strata down stops it\n`);
  return 0;
}

async function cmdDown(argv: string[]): Promise<number> {
  if (argv.length) throw new UsageError(`unexpected argument ${argv[0]}`);
  await down(out);
  return 0;
}

async function cmdStatus(argv: string[]): Promise<number> {
  if (argv.length) throw new UsageError(`unexpected argument ${argv[0]}`);
  await status(requireCluster(), out);
  return 0;
}

async function cmdS3Server(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { listen: { type: 'string' }, dir: { type: 'string' }, bucket: { type: 'string' } } });
  if (positionals.length) throw new UsageError(`unexpected argument ${positionals[0]}`);
  const m = /^127\.0\.0\.1:(\d{1,5})$/.exec(required(values.listen, '--listen', 's3-server'));
  if (!m) throw new UsageError('s3-server listens on 127.0.0.1:PORT only');
  const { runS3Server } = await import('@strata/remote-storage/s3-server');
  const server = await runS3Server({ directory: required(values.dir, '--dir', 's3-server'), port: Number(m[1]), bucket: values.bucket ?? 'strata' });
  out(`s3 server listening on ${server.endpoint}`);
  await new Promise<void>((resolve) => {
    process.once('SIGTERM', () => resolve());
    process.once('SIGINT', () => resolve());
  });
  await server.close();
  return 0;
}

export async function main(argv: string[]): Promise<number> {
  const [cmd, sub, ...rest] = argv;
  try {
    if (!cmd || cmd === 'help' || cmd === '--help' || cmd === '-h') {
      process.stdout.write(USAGE);
      return cmd ? 0 : 1;
    }
    if (cmd === 'up') return await cmdUp(argv.slice(1));
    if (cmd === 'down') return await cmdDown(argv.slice(1));
    if (cmd === 'status') return await cmdStatus(argv.slice(1));
    if (cmd === 's3-server') return await cmdS3Server(argv.slice(1));
    if (cmd === 'branch' && sub === 'list') return await cmdBranchList(rest);
    if (cmd === 'branch' && sub === 'delete') return await cmdBranchDelete(rest);
    if (cmd === 'branch' && sub === 'set') return await cmdBranchSet(rest);
    if (cmd === 'endpoints') return await cmdEndpoints(sub, rest);
    if (cmd === 'snapshot') return await cmdSnapshot(sub, rest);
    if (cmd === 'redo' && sub === 'dump') return cmdRedoDump(rest);
    if (cmd === 'redo' && sub === 'apply') return await cmdRedoApply(rest);
    if (cmd === 'safekeeper' && sub === 'membership') return await cmdMembership(rest);
    if (cmd === 'safekeeper' && sub === 'add') {
      if (rest.length) throw new UsageError(`unexpected argument ${rest[0]}`);
      const sk = await addSafekeeper((line) => process.stderr.write(`[safekeeper add] ${line}\n`));
      out(`safekeeper ${sk.id} ${sk.url}`);
      return 0;
    }
    if (cmd === 'safekeeper' && sub === 'remove') {
      const id = rest.length === 1 && /^[1-9]\d{0,8}$/.test(rest[0]!) ? Number(rest[0]) : undefined;
      if (id === undefined) throw new UsageError('safekeeper remove takes one node id');
      await removeSafekeeper(id, (line) => process.stderr.write(`[safekeeper remove] ${line}\n`));
      out(`safekeeper ${id} removed`);
      return 0;
    }
    if (cmd === 'safekeeper') return await cmdSafekeeper(argv.slice(1));
    if (cmd === 'wal' && sub === 'push') return await cmdWalPush(rest);
    if (cmd === 'wal' && sub === 'read') return await cmdWalRead(rest);
    if (cmd === 'pageserver') return await cmdPageserver(argv.slice(1));
    if (cmd === 'tenant' && sub === 'import') return await cmdTenantImport(rest);
    if (cmd === 'wait-lsn') return await cmdWaitLsn(argv.slice(1));
    if (cmd === 'page' && sub === 'get') return await cmdPageGet(rest);
    if (cmd === 'basebackup') return await cmdBasebackup(argv.slice(1));
    if (cmd === 'branch' && sub === 'create') return await cmdBranchCreate(rest);
    if (cmd === 'compute' && sub === 'start') return await cmdComputeStart(rest);
    if (cmd === 'compute' && sub === 'stop') return await cmdComputeStop(rest);
    if (cmd === 'compute' && sub === 'list') {
      if (rest.length) throw new UsageError(`unexpected argument ${rest[0]}`);
      await computeList(out, (timelineId) => readCluster()?.branches.find((b) => b.timelineId === timelineId)?.name, token());
      // The branch endpoints after the computes (new lines; the compute lines are unchanged).
      const cluster = readCluster();
      if (cluster) for (const line of endpointListLines(cluster, readEndpointsStatus(), Date.now())) out(line);
      return 0;
    }
    throw new UsageError(`unknown command: ${[cmd, sub].filter(Boolean).join(' ')}`);
  } catch (e) {
    if (e instanceof MembershipArgsError) {
      process.stderr.write(`strata: ${e.message}\n\n${USAGE}`);
      return 64;
    }
    if (e instanceof ComputeError) {
      process.stderr.write(`strata: ${e.code}: ${e.message}\n`);
      return 1;
    }
    if (e instanceof LocalClusterError || e instanceof DaemonError || e instanceof WalPushError || e instanceof ComputeCommandError || e instanceof ControllerArgsError || e instanceof WalReadError || e instanceof MembershipChangeFailed || e instanceof PageserverCommandError) {
      process.stderr.write(`strata: ${e.message}\n`);
      return 1;
    }
    const status = exitStatusFor(e);
    if (status === undefined) throw e;
    return status;
  }
}
