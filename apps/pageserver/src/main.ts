/**
 * `pageserver`: flags/env → deps → serve. The process entry is `bin.ts` (built to
 * dist/pageserver.mjs); `./strata pageserver ...` runs `main` too.
 *
 * Shutdown (SIGTERM/SIGINT): stop the WAL receivers, stop serving, freeze
 * every open layer into a layer file (index written), report the durable
 * LSNs to the safekeepers, exit. After kill -9 instead, a restart resumes
 * ingest at each timeline's disk-consistent LSN.
 */
import { installNativeCrc32c } from '@strata/datadir';
import { openRemoteStorage } from '@strata/remote-storage';
import { readFile } from 'node:fs/promises';
import { checkAuthPolicy, jsonLogger, listen, loadVerifier, type Logger, RuntimeMetrics } from '@strata/service-kit';
import { createApp } from './app.js';
import { attachGetPageStream } from './data-path/getpage-stream.js';
import { DEFAULT_LIMITS, type PageserverDeps } from './deps.js';
import { ConfigError, loadConfig, type PageserverConfig } from './env.js';
import { WalReceivers } from './ingest/receivers.js';
import { DEFAULT_COMPACTION_PERIOD_MS, DEFAULT_GC_PERIOD_MS, DEFAULT_PITR_MS, StorageMaintenance } from './maintenance.js';
import { PageserverMetrics } from './metrics.js';
import { PageCache } from './storage/page-cache.js';
import { TenantManager } from './tenant-manager.js';

export const VERSION = '0.1.0';

export interface RunningPageserver {
  /** `http(s)://host:port` actually bound (port 0 resolves here). */
  url: string;
  port: number;
  deps: PageserverDeps;
  receivers: WalReceivers;
  stop(): Promise<void>;
}

export async function startPageserver(config: PageserverConfig, log: Logger, onBug?: (e: Error) => void): Promise<RunningPageserver> {
  if (!installNativeCrc32c()) log.warn('native CRC-32C unavailable on this platform: layer and redo checksums use the slower pure code');
  const verifier = await loadVerifier(config.auth);
  const warning = checkAuthPolicy(config.listen.host, verifier);
  if (warning) log.warn(`!!!!! ${warning} !!!!!`);
  const token = config.tokenFile ? (await readFile(config.tokenFile, 'utf8')).trim() : undefined;
  const remote = config.remoteStorageUrl ? openRemoteStorage(config.remoteStorageUrl, { region: config.awsRegion }) : undefined;

  const metrics = new PageserverMetrics();
  metrics.runtime = new RuntimeMetrics(metrics.registry, 'pageserver');
  const t0 = performance.now();
  const restored = await TenantManager.restoreFromRemote({ dataDir: config.dataDir, log, remote });
  const tenants = TenantManager.open({ dataDir: config.dataDir, log, checkpointBytes: config.checkpointBytes, remote });
  await tenants.syncRemote();
  if (restored > 0) log.info('restored from remote storage', { timelines: restored });
  log.info('timelines loaded', { timelines: tenants.all().length, ms: Math.round(performance.now() - t0) });
  const maintenance = new StorageMaintenance({
    tenants,
    metrics,
    log,
    pitrMs: config.pitrMs ?? DEFAULT_PITR_MS,
    gcPeriodMs: config.gcPeriodMs ?? DEFAULT_GC_PERIOD_MS,
    compactionPeriodMs: config.compactionPeriodMs ?? DEFAULT_COMPACTION_PERIOD_MS,
    // Eviction needs somewhere to evict to.
    diskBudgetBytes: remote ? config.diskBudgetBytes : undefined,
  });
  if (config.diskBudgetBytes && !remote) log.warn('--disk-budget-bytes needs --remote-storage: no layer is evicted');
  tenants.subscribe(maintenance);
  const receivers = new WalReceivers({
    safekeepers: config.safekeepers,
    token,
    metrics,
    log,
    ...(config.checkpointTimeoutMs !== undefined ? { checkpointTimeoutMs: config.checkpointTimeoutMs } : {}),
    onBug,
    backpressure: (t) => maintenance.backpressure(t),
  });
  const pageCache = new PageCache(config.pageCacheBytes);
  tenants.subscribe({
    added: () => undefined,
    removing: (t) => {
      pageCache.dropTimeline(t);
      return Promise.resolve();
    },
  });
  const deps: PageserverDeps = {
    version: VERSION,
    tenants,
    metrics,
    verifier,
    log,
    pageCache,
    receivers,
    safekeepers: config.safekeepers,
    remoteStorage: config.remoteStorageUrl,
    diskBudgetBytes: remote ? config.diskBudgetBytes : undefined,
    maintenance,
    ...(onBug ? { onBug } : {}),
  };
  const app = createApp(deps);
  const tls = config.tls ? { cert: await readFile(config.tls.certFile), key: await readFile(config.tls.keyFile) } : undefined;
  const listening = await listen(app.fetch, { host: config.listen.host, port: config.listen.port, tls });
  const streams = attachGetPageStream(listening.server, {
    tenants,
    metrics,
    log,
    verifier,
    pageCache,
    batchMax: DEFAULT_LIMITS.getpageBatchMax,
    waitMsMax: DEFAULT_LIMITS.waitMsMax,
    onBug,
  });
  receivers.attach(tenants);
  maintenance.start();
  log.info('pageserver listening', { url: listening.url, pageCacheBytes: config.pageCacheBytes, dataDir: config.dataDir, safekeepers: config.safekeepers, auth: verifier?.algorithm ?? 'none' });

  let stopping: Promise<void> | undefined;
  return {
    url: listening.url,
    port: listening.port,
    deps,
    receivers,
    stop() {
      stopping ??= (async () => {
        // Each stage says so when it holds the stop up: `strata down` kills a page server that takes too long.
        await stopStage(log, 'WAL receivers', () => receivers.stopAll());
        await stopStage(log, 'maintenance', () => maintenance.stop());
        streams.closeAll();
        await stopStage(log, 'HTTP server', () => listening.close());
        await stopStage(log, 'flush of open layers', () => tenants.flushAll());
        // Bounded: local layers are authoritative, and the next start queues whatever the remote copy lacks (syncRemote).
        await stopStage(log, 'uploads', () => drainUploadsFor(tenants, log, STOP_UPLOADS_MS));
        await stopStage(log, 'LSN reports to the safekeepers', () => receivers.reportAll());
        tenants.close();
        metrics.runtime?.stop();
      })();
      return stopping;
    },
  };
}

/** A stop stage is slow after this long: the page server logs what it is waiting on. */
const STOP_STAGE_SLOW_MS = 2000;

/** How long a stop waits for queued uploads to remote storage. */
const STOP_UPLOADS_MS = 3000;

async function drainUploadsFor(tenants: TenantManager, log: Logger, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(true), ms);
  });
  try {
    if (await Promise.race([tenants.drainUploads().then(() => false), timedOut])) {
      log.warn('stopping with uploads still queued: the next start uploads what remote storage lacks', { waitedMs: ms });
    }
  } finally {
    clearTimeout(timer);
  }
}

async function stopStage(log: Logger, stage: string, fn: () => unknown): Promise<void> {
  const t0 = performance.now();
  const timer = setInterval(() => log.warn('stopping: still waiting', { stage, ms: Math.round(performance.now() - t0) }), STOP_STAGE_SLOW_MS);
  try {
    await fn();
  } finally {
    clearInterval(timer);
  }
}

export async function main(argv: readonly string[]): Promise<number> {
  const log = jsonLogger((line) => process.stderr.write(line), { service: 'pageserver' });
  let config: PageserverConfig;
  try {
    config = loadConfig(argv);
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`pageserver: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
  let running: RunningPageserver;
  try {
    running = await startPageserver(config, log, () => {
      // A failed assertion is a bug: stop rather than serve from a state we do not understand.
      setImmediate(() => process.exit(70));
    });
  } catch (e) {
    // A configuration only found wrong at start (an unreadable key, no auth on a public address): one line, no stack.
    if (e instanceof ConfigError) {
      process.stderr.write(`pageserver: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
  process.stdout.write(`pageserver listening on ${running.url}\n`);
  await new Promise<void>((resolveSignal) => {
    process.once('SIGTERM', resolveSignal);
    process.once('SIGINT', resolveSignal);
  });
  log.info('stopping');
  await running.stop();
  log.info('stopped: open layers flushed');
  return 0;
}
