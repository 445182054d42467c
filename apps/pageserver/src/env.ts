/**
 * The page server's configuration: command-line flags, falling back to
 * environment variables, validated with zod at boot. Nothing else reads
 * process.env.
 *
 *   --listen HOST:PORT        PAGESERVER_LISTEN             (default 127.0.0.1:9898)
 *   --data DIR                PAGESERVER_DATA_DIR
 *   --safekeepers H:P,...     PAGESERVER_SAFEKEEPERS        where committed WAL is streamed from
 *   --remote-storage URL      PAGESERVER_REMOTE_STORAGE     file:///abs or s3://bucket/prefix?endpoint=..
 *   --auth-public-key FILE    STRATA_AUTH_PUBLIC_KEY_FILE   Ed25519 public key, PEM (SPKI)
 *   --auth-hs256-secret-file FILE  STRATA_AUTH_HS256_SECRET_FILE
 *   --tls-cert FILE           STRATA_TLS_CERT_FILE
 *   --tls-key FILE            STRATA_TLS_KEY_FILE
 *   --token-file FILE         PAGESERVER_TOKEN_FILE          JWT presented to the safekeepers
 *   --checkpoint-bytes N      PAGESERVER_CHECKPOINT_BYTES    freeze the open layer at this size (default 64 MiB)
 *   --checkpoint-timeout-ms N PAGESERVER_CHECKPOINT_TIMEOUT_MS  ... or when it is this old (default 10 s)
 *   --pitr-ms N               PAGESERVER_PITR_MS             history GC keeps readable (default 7 days)
 *   --gc-period-ms N          PAGESERVER_GC_PERIOD_MS        background GC period (default 10 min; 0: off)
 *   --compaction-period-ms N  PAGESERVER_COMPACTION_PERIOD_MS  background compaction period (default 20 s; 0: off)
 *   --page-cache-bytes N      PAGESERVER_PAGE_CACHE_BYTES    memory page cache size (default 256 MiB; 0 turns it off)
 *   --disk-budget-bytes N     PAGESERVER_DISK_BUDGET_BYTES   local layer files beyond this are evicted to remote storage (default: no budget)
 *                             AWS_REGION                     S3 region of remote storage URLs without ?region= (default us-east-1)
 */
import { isAbsolute, resolve } from 'node:path';
import { z } from 'zod';
import { remoteStorageUrlFlag } from '@strata/remote-storage';
import { ConfigError, listenSchema, loadFlags, parseListen } from '@strata/service-kit';

const FLAGS = {
  listen: 'PAGESERVER_LISTEN',
  data: 'PAGESERVER_DATA_DIR',
  safekeepers: 'PAGESERVER_SAFEKEEPERS',
  'remote-storage': 'PAGESERVER_REMOTE_STORAGE',
  'auth-public-key': 'STRATA_AUTH_PUBLIC_KEY_FILE',
  'auth-hs256-secret-file': 'STRATA_AUTH_HS256_SECRET_FILE',
  'tls-cert': 'STRATA_TLS_CERT_FILE',
  'tls-key': 'STRATA_TLS_KEY_FILE',
  'token-file': 'PAGESERVER_TOKEN_FILE',
  'checkpoint-bytes': 'PAGESERVER_CHECKPOINT_BYTES',
  'checkpoint-timeout-ms': 'PAGESERVER_CHECKPOINT_TIMEOUT_MS',
  'pitr-ms': 'PAGESERVER_PITR_MS',
  'gc-period-ms': 'PAGESERVER_GC_PERIOD_MS',
  'compaction-period-ms': 'PAGESERVER_COMPACTION_PERIOD_MS',
  'page-cache-bytes': 'PAGESERVER_PAGE_CACHE_BYTES',
  'disk-budget-bytes': 'PAGESERVER_DISK_BUDGET_BYTES',
} as const;

export const DEFAULT_PAGE_CACHE_BYTES = 256 << 20;

const safekeepersSchema = z.string().transform((s, ctx) => {
  const items = s.split(',').map((x) => x.trim()).filter(Boolean);
  const urls: string[] = [];
  for (const i of items) {
    if (/^https?:\/\/[^/\s]+\/?$/.test(i)) urls.push(i.replace(/\/+$/, ''));
    else if (parseListen(i)) urls.push(`http://${i}`);
    else ctx.addIssue({ code: 'custom', message: `"${i}" is not HOST:PORT` });
  }
  if (items.length === 0) ctx.addIssue({ code: 'custom', message: 'needs at least one HOST:PORT' });
  return urls;
});

const configSchema = z
  .object({
    listen: listenSchema.default({ host: '127.0.0.1', port: 9898 }),
    data: z.string().min(1),
    safekeepers: safekeepersSchema,
    'remote-storage': remoteStorageUrlFlag,
    'auth-public-key': z.string().min(1).optional(),
    'auth-hs256-secret-file': z.string().min(1).optional(),
    'tls-cert': z.string().min(1).optional(),
    'tls-key': z.string().min(1).optional(),
    'token-file': z.string().min(1).optional(),
    'checkpoint-bytes': z.coerce.number().int().min(64 * 1024).max(1 << 30).optional(),
    'checkpoint-timeout-ms': z.coerce.number().int().min(100).max(3_600_000).optional(),
    'pitr-ms': z.coerce.number().int().min(0).max(10 * 365 * 86_400_000).default(7 * 86_400_000),
    'gc-period-ms': z.coerce.number().int().min(0).max(86_400_000).default(600_000),
    'compaction-period-ms': z.coerce.number().int().min(0).max(86_400_000).default(20_000),
    'page-cache-bytes': z.coerce.number().int().min(0).max(2 ** 40).default(DEFAULT_PAGE_CACHE_BYTES),
    'disk-budget-bytes': z.coerce.number().int().min(0).max(2 ** 50).optional(),
  })
  .strict()
  .refine((c) => !(c['auth-public-key'] && c['auth-hs256-secret-file']), 'configure one JWT key, not both')
  .refine((c) => !!c['tls-cert'] === !!c['tls-key'], 'TLS needs both a certificate and a key');

export interface PageserverConfig {
  listen: { host: string; port: number };
  dataDir: string;
  /** Safekeeper base URLs. */
  safekeepers: string[];
  remoteStorageUrl: string | undefined;
  auth: { publicKeyFile: string | undefined; hs256SecretFile: string | undefined };
  tls: { certFile: string; keyFile: string } | undefined;
  tokenFile: string | undefined;
  checkpointBytes: number | undefined;
  checkpointTimeoutMs: number | undefined;
  /** History GC keeps readable, and how often GC and compaction run in the background (0: not at all). Optional: configs built in code may leave them to the defaults. */
  pitrMs?: number | undefined;
  gcPeriodMs?: number | undefined;
  compactionPeriodMs?: number | undefined;
  /** Bytes of the memory page cache; 0: off. */
  pageCacheBytes: number;
  /** Local layer bytes kept before eviction to remote storage (needs remote storage). */
  diskBudgetBytes?: number | undefined;
  /** The S3 region of a remote storage URL that names none (AWS_REGION, as the AWS tools read it). */
  awsRegion?: string | undefined;
}

export { ConfigError };

/** The configuration from flags, else the environment (the process's by default: the one place it is read). */
export function loadConfig(argv: readonly string[], env: Readonly<Record<string, string | undefined>> = process.env, cwd: string = process.cwd()): PageserverConfig {
  const c = loadFlags(FLAGS, configSchema, argv, env);
  const abs = (p: string) => (isAbsolute(p) ? p : resolve(cwd, p));
  return {
    listen: c.listen,
    dataDir: abs(c.data),
    safekeepers: c.safekeepers,
    remoteStorageUrl: c['remote-storage'],
    auth: {
      publicKeyFile: c['auth-public-key'] && abs(c['auth-public-key']),
      hs256SecretFile: c['auth-hs256-secret-file'] && abs(c['auth-hs256-secret-file']),
    },
    tls: c['tls-cert'] && c['tls-key'] ? { certFile: abs(c['tls-cert']), keyFile: abs(c['tls-key']) } : undefined,
    tokenFile: c['token-file'] && abs(c['token-file']),
    checkpointBytes: c['checkpoint-bytes'],
    checkpointTimeoutMs: c['checkpoint-timeout-ms'],
    pitrMs: c['pitr-ms'],
    gcPeriodMs: c['gc-period-ms'],
    compactionPeriodMs: c['compaction-period-ms'],
    pageCacheBytes: c['page-cache-bytes'],
    diskBudgetBytes: c['disk-budget-bytes'],
    // Empty counts as unset, as for the flags' variables.
    awsRegion: env['AWS_REGION'] || undefined,
  };
}
