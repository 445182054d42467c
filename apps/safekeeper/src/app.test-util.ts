import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RemoteStorage } from '@strata/remote-storage';
import { SignJWT, exportSPKI, generateKeyPair, type CryptoKey } from 'jose';
import { createVerifier, memoryLogger, type TokenVerifier } from '@strata/service-kit';
import { createApp } from './app.js';
import type { SafekeeperDeps, SafekeeperLimits } from './deps.js';
import { SafekeeperMetrics } from './metrics.js';
import { MembershipLedger } from './membership/ledger.js';
import { TimelineRegistry } from './storage/timelines.js';

export const TENANT = '0123456789abcdef0123456789abcdef';
export const OTHER_TENANT = 'fedcba9876543210fedcba9876543210';
export const TIMELINE = '00000000000000000000000000000001';

export async function tempDir(prefix = 'strata-sk-'): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

export interface Keys {
  privateKey: CryptoKey;
  publicKeyPem: string;
  verifier: TokenVerifier;
  token(claims: Record<string, unknown>, expiresIn?: string): Promise<string>;
}

export async function ed25519Keys(): Promise<Keys> {
  const { privateKey, publicKey } = await generateKeyPair('EdDSA', { extractable: true });
  return {
    privateKey,
    publicKeyPem: await exportSPKI(publicKey),
    verifier: createVerifier(publicKey, 'EdDSA'),
    token: (claims, expiresIn = '1h') =>
      new SignJWT(claims).setProtectedHeader({ alg: 'EdDSA' }).setIssuedAt().setExpirationTime(expiresIn).sign(privateKey),
  };
}

export interface TestApp {
  app: ReturnType<typeof createApp>;
  deps: SafekeeperDeps;
  dataDir: string;
  /** Reopens everything over the same data directory, as a restart would. */
  restart(): Promise<TestApp>;
  close(): Promise<void>;
}

export async function testApp(
  options: {
    verifier?: TokenVerifier | null;
    limits?: Partial<SafekeeperLimits>;
    segmentBytes?: number;
    walTailCacheBytes?: number;
    dataDir?: string;
    nodeId?: number;
    remoteStorage?: RemoteStorage;
    /** `--peers`: the pull sources and known nodes (see bounds.ts, routes/pull.ts). */
    peers?: ReadonlyMap<number, string>;
    /** `--token-file`, as the Authorization header value it becomes. */
    peerAuthorization?: string;
  } = {},
): Promise<TestApp> {
  const tmp = options.dataDir ? undefined : await tempDir();
  const dataDir = options.dataDir ?? tmp!.dir;
  const metrics = new SafekeeperMetrics();
  const timelines = await TimelineRegistry.open({
    dataDir,
    nodeId: options.nodeId ?? 1,
    metrics,
    segmentBytes: options.segmentBytes ?? 1024,
    ...(options.walTailCacheBytes !== undefined ? { walTailCacheBytes: options.walTailCacheBytes } : {}),
    now: () => new Date('2026-01-02T03:04:05.000Z'),
  });
  const ledger = await MembershipLedger.open(dataDir, options.nodeId ?? 1, timelines.all(), () => new Date('2026-01-01T00:00:00.000Z'));
  const deps: SafekeeperDeps = {
    ledger,
    nodeId: options.nodeId ?? 1,
    version: 'test',
    timelines,
    metrics,
    verifier: options.verifier ?? null,
    log: memoryLogger(),
    ...(options.limits ? { limits: options.limits } : {}),
    ...(options.remoteStorage ? { remoteStorage: options.remoteStorage } : {}),
    ...(options.peers ? { peers: options.peers } : {}),
    ...(options.peerAuthorization ? { peerAuthorization: options.peerAuthorization } : {}),
  };
  const app = createApp(deps);
  return {
    app,
    deps,
    dataDir,
    async restart() {
      await timelines.close();
      return testApp({ ...options, dataDir });
    },
    async close() {
      await timelines.close();
      await tmp?.cleanup();
    },
  };
}

export function json(body: unknown, headers: Record<string, string> = {}): RequestInit {
  return { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json', ...headers } };
}

export const createBody = (overrides: Record<string, unknown> = {}) => ({
  timelineId: TIMELINE,
  startLsn: '1000',
  conf: { generation: 1, members: [1, 2, 3] },
  ...overrides,
});
