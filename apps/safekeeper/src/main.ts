/**
 * `safekeeper`: flags/env → deps → serve. The process entry is `bin.ts` (built to
 * dist/safekeeper.mjs); `./strata safekeeper ...` runs `main` too.
 */
import { readFile } from 'node:fs/promises';
import { bearerAuthorization } from '@strata/core';
import { installNativeCrc32c } from '@strata/datadir';
import { openRemoteStorage } from '@strata/remote-storage';
import { checkAuthPolicy, ConfigError, jsonLogger, listen, loadVerifier, type Logger } from '@strata/service-kit';
import { createApp } from './app.js';
import { knownNodes } from './bounds.js';
import type { SafekeeperDeps } from './deps.js';
import { loadConfig, type SafekeeperConfig } from './env.js';
import { SafekeeperMetrics } from './metrics.js';
import { TimelineRegistry } from './storage/timelines.js';
import { WalBackup } from './backup/wal-backup.js';
import { AcceptorHosts } from './data-path/hosts.js';
import { attachConsensusStream } from './data-path/stream-server.js';
import { ConfSync } from './membership/conf-sync.js';
import { holds, MembershipLedger } from './membership/ledger.js';
import { PeerRecovery } from './peer-recovery.js';

export const VERSION = '0.1.0';

export interface RunningSafekeeper {
  /** `http(s)://host:port` actually bound (port 0 resolves here). */
  url: string;
  port: number;
  deps: SafekeeperDeps;
  /** The WAL backup loop, when remote storage is configured. */
  walBackup: WalBackup | undefined;
  /** The peer recovery loop, when `--peers` is given. */
  peerRecovery: PeerRecovery | undefined;
  stop(): Promise<void>;
}

/** Builds the deps from a config and starts listening. */
export async function startSafekeeper(config: SafekeeperConfig, log: Logger, onBug?: (e: Error) => void): Promise<RunningSafekeeper> {
  const verifier = await loadVerifier(config.auth);
  const warning = checkAuthPolicy(config.listen.host, verifier);
  if (warning) log.warn(`!!!!! ${warning} !!!!!`);

  const metrics = new SafekeeperMetrics();
  const timelines = await TimelineRegistry.open({
    dataDir: config.dataDir,
    nodeId: config.nodeId,
    metrics,
    ...(config.walSegmentBytes !== undefined ? { segmentBytes: config.walSegmentBytes } : {}),
  });
  const ledger = await MembershipLedger.open(config.dataDir, config.nodeId, timelines.all());
  for (const l of ledger.lost((t, tl) => holds(timelines, t, tl))) log.warn('timeline lost: held here, directory gone; this safekeeper stays out of it until a membership change replaces it', l);
  const remoteStorage = config.remoteStorageUrl ? openRemoteStorage(config.remoteStorageUrl, { region: config.awsRegion }) : undefined;
  const hosts = new AcceptorHosts(config.nodeId, knownNodes({ nodeId: config.nodeId, peers: config.peers }));
  const peerToken = config.tokenFile ? (await readFile(config.tokenFile, 'utf8')).trim() : undefined;
  // What this safekeeper shows its peers (pull, recovery, configuration sync); none without a token.
  const peerAuthorization = bearerAuthorization(peerToken);
  const deps: SafekeeperDeps = {
    nodeId: config.nodeId,
    version: VERSION,
    timelines,
    metrics,
    verifier,
    log,
    remoteStorage,
    hosts,
    ledger,
    peers: config.peers,
    ...(peerAuthorization ? { peerAuthorization } : {}),
    ...(onBug ? { onBug } : {}),
  };
  const app = createApp(deps);
  const walBackup = remoteStorage ? new WalBackup({ timelines, storage: remoteStorage, nodeId: config.nodeId, metrics, log }) : undefined;

  const peerRecovery = config.peers
    ? new PeerRecovery({ nodeId: config.nodeId, peers: config.peers, timelines, hosts, metrics, log, ...(peerAuthorization ? { authorization: peerAuthorization } : {}) })
    : undefined;
  if (config.peers && verifier && !peerToken) log.warn('--peers without --token-file on a safekeeper with auth: peers will refuse peer recovery');

  const tls = config.tls ? { cert: await readFile(config.tls.certFile), key: await readFile(config.tls.keyFile) } : undefined;
  const listening = await listen(app.fetch, { host: config.listen.host, port: config.listen.port, tls });
  const { url, port } = listening;
  // A member that missed a configuration switch learns it from its peers when a compute greets it with a newer one.
  const confSync = config.peers
    ? new ConfSync({ nodeId: config.nodeId, peers: config.peers, hosts, log, ...(peerAuthorization ? { authorization: peerAuthorization } : {}) })
    : undefined;
  const consensusStreams = attachConsensusStream(listening.server, { timelines, hosts, verifier, log, onBug, ledger, confSync });
  walBackup?.start();
  peerRecovery?.start();
  log.info('safekeeper listening', { nodeId: config.nodeId, url, dataDir: config.dataDir, timelines: timelines.size, peers: config.peers?.size ?? 0, auth: verifier?.algorithm ?? 'none' });

  return {
    url,
    port,
    deps,
    walBackup,
    peerRecovery,
    async stop() {
      // drain(), not close(): in-flight requests (WAL appends) finish before the timelines close rather than being cut after 2 s,
      // and appends that arrive later on a kept-alive connection are refused (a stopping safekeeper must not go on accepting WAL).
      const drained = listening.drain();
      // Streams end after the batch they are making durable has answered; until then drain() waits for them.
      await consensusStreams.close();
      await drained;
      await peerRecovery?.stop();
      await walBackup?.stop();
      await timelines.close();
      await remoteStorage?.close();
    },
  };
}

export async function main(argv: readonly string[]): Promise<number> {
  const log = jsonLogger((line) => process.stderr.write(line), { service: 'safekeeper' });
  let config: SafekeeperConfig;
  try {
    config = loadConfig(argv);
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`safekeeper: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
  // Every append's mtr framing and recovery's tail scan checksum WAL: the pure CRC-32C runs at ~170 MiB/s, the native one at GB/s.
  if (!installNativeCrc32c()) log.warn('native CRC-32C unavailable on this platform: WAL checksums use the slower pure code');
  let running: RunningSafekeeper;
  try {
    running = await startSafekeeper(config, log, () => {
      // A failed assertion is a bug: stop rather than serve from a state we do not understand.
      setImmediate(() => process.exit(70));
    });
  } catch (e) {
    // A configuration only found wrong at start (an unreadable key, no auth on a public address): one line, no stack.
    if (e instanceof ConfigError) {
      process.stderr.write(`safekeeper: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
  process.stdout.write(`safekeeper ${config.nodeId} listening on ${running.url}\n`);
  await new Promise<void>((resolveSignal) => {
    process.once('SIGTERM', resolveSignal);
    process.once('SIGINT', resolveSignal);
  });
  log.info('stopping');
  await running.stop();
  return 0;
}
