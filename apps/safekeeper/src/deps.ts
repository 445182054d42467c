import type { RemoteStorage } from '@strata/remote-storage';
import type { Claims, Logger, TokenVerifier } from '@strata/service-kit';
import type { AcceptorHosts } from './data-path/hosts.js';
import type { MembershipLedger } from './membership/ledger.js';
import type { SafekeeperMetrics } from './metrics.js';
import type { Timeline } from './storage/timeline.js';
import type { TimelineRegistry } from './storage/timelines.js';

export interface SafekeeperLimits {
  /** Largest JSON body of the admin API. */
  jsonBodyBytes: number;
  /** Largest WAL response; readers continue from `X-Strata-End-Lsn`. */
  walReadBytes: number;
  /** Longest long-poll wait for a new commit. */
  walWaitMsMax: number;
}

export const DEFAULT_LIMITS: SafekeeperLimits = {
  jsonBodyBytes: 64 * 1024,
  walReadBytes: 16 * 1024 * 1024,
  walWaitMsMax: 30_000,
};

/** Everything createApp needs; main.ts builds it, tests build it over temp dirs. */
export interface SafekeeperDeps {
  nodeId: number;
  version: string;
  timelines: TimelineRegistry;
  metrics: SafekeeperMetrics;
  /** null: no key configured, every request is trusted (main.ts allows this on loopback only). */
  verifier: TokenVerifier | null;
  log: Logger;
  remoteStorage?: RemoteStorage | undefined;
  /** The per-timeline acceptor hosts; shared with peer recovery (main.ts). The consensus route makes its own when absent. */
  hosts?: AcceptorHosts;
  limits?: Partial<SafekeeperLimits>;
  /**
   * The end of WAL a reader may get from a timeline. Defaults to its commit
   * LSN: only what a quorum has flushed leaves a safekeeper.
   */
  walReadBound?: (timeline: Timeline) => bigint;
  /** Timelines held and the data directory's age: tells a lost timeline from a missed one (membership/ledger.ts). */
  ledger?: MembershipLedger;
  /**
   * The other safekeepers of the cluster by node ID (`--peers`, this node's
   * own entry dropped): the only sources a pull fetches from, and the nodes
   * a new timeline's configuration may name. Absent: see routes/pull.ts and
   * bounds.ts for what is allowed then.
   */
  peers?: ReadonlyMap<number, string> | undefined;
  /** `Bearer <token>` this safekeeper shows its peers (`--token-file`); a pull presents it rather than its caller's. */
  peerAuthorization?: string | undefined;
  /** Called with an assertion failure (a bug) after it was answered with 500; main.ts exits. */
  onBug?: (error: Error) => void;
}

export type AppEnv = { Variables: { requestId: string; claims: Claims } };
