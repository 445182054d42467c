import type { Claims, Logger, TokenVerifier } from '@strata/service-kit';
import type { ReceiverStatus } from './ingest/wal-receiver.js';
import type { StorageMaintenance } from './maintenance.js';
import type { PageserverMetrics } from './metrics.js';
import type { Timeline } from './storage/index.js';
import type { PageCache } from './storage/page-cache.js';
import type { TenantManager } from './tenant-manager.js';

export interface PageserverLimits {
  /** Largest JSON body of the admin API. */
  jsonBodyBytes: number;
  /** Most pages in one GetPage request. */
  getpageBatchMax: number;
  /** Longest wait for an LSN to be ingested, per request. */
  waitMsMax: number;
}

export const DEFAULT_LIMITS: PageserverLimits = {
  jsonBodyBytes: 64 * 1024,
  getpageBatchMax: 1024,
  waitMsMax: 300_000,
};

/** Everything createApp needs; main.ts builds it, tests build it over temp dirs. */
export interface PageserverDeps {
  version: string;
  tenants: TenantManager;
  metrics: PageserverMetrics;
  /** null: no key configured, every request is trusted (main.ts allows this on loopback only). */
  verifier: TokenVerifier | null;
  log: Logger;
  /** The memory tier of GetPage (main.ts: `--page-cache-bytes`); none: every page is reconstructed. */
  pageCache?: PageCache | undefined;
  limits?: Partial<PageserverLimits>;
  /** The WAL receivers, when WAL is streamed (main.ts): their state shows in timeline details. */
  receivers?: { status(t: Timeline): ReceiverStatus | undefined } | undefined;
  /** Safekeepers WAL is streamed from, for /v1/status. */
  safekeepers?: readonly string[];
  remoteStorage?: string | undefined;
  /** Local layer bytes beyond which layers are evicted to remote storage (for /v1/status); none: no budget. */
  diskBudgetBytes?: number | undefined;
  /** Compaction and GC (main.ts runs its background loops); createApp makes an idle one when absent. */
  maintenance?: StorageMaintenance | undefined;
  /** Called with an assertion failure (a bug) after it was answered with 500; main.ts exits. */
  onBug?: (error: Error) => void;
}

export type AppEnv = { Variables: { requestId: string; claims: Claims } };
