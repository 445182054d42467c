/**
 * The safekeeper's configuration: command-line flags, falling back to
 * environment variables, validated with zod at boot. Nothing else reads
 * process.env.
 *
 *   --id N                    SAFEKEEPER_ID
 *   --listen HOST:PORT        SAFEKEEPER_LISTEN              (default 127.0.0.1:7676)
 *   --data DIR                SAFEKEEPER_DATA_DIR
 *   --remote-storage URL      SAFEKEEPER_REMOTE_STORAGE      file:///abs or s3://bucket/prefix?endpoint=..&region=..
 *   --auth-public-key FILE    STRATA_AUTH_PUBLIC_KEY_FILE    Ed25519 public key, PEM (SPKI)
 *   --auth-hs256-secret-file FILE  STRATA_AUTH_HS256_SECRET_FILE
 *   --tls-cert FILE           STRATA_TLS_CERT_FILE
 *   --tls-key FILE            STRATA_TLS_KEY_FILE
 *   --wal-segment-bytes N     SAFEKEEPER_WAL_SEGMENT_BYTES   (default 16 MiB)
 *   --token-file FILE         SAFEKEEPER_TOKEN_FILE          token presented to peers (peer recovery with auth on)
 *   --peers ID=URL,...        SAFEKEEPER_PEERS               e.g. 1=http://10.0.0.1:7676,2=http://10.0.0.2:7676;
 *                                                            enables peer recovery (its own entry is ignored)
 *                             AWS_REGION                     S3 region of remote storage URLs without ?region= (default us-east-1)
 */
import { isAbsolute, resolve } from 'node:path';
import { z } from 'zod';
import { remoteStorageUrlFlag } from '@strata/remote-storage';
import { listenSchema, loadFlags } from '@strata/service-kit';

const FLAGS = {
  id: 'SAFEKEEPER_ID',
  listen: 'SAFEKEEPER_LISTEN',
  data: 'SAFEKEEPER_DATA_DIR',
  'remote-storage': 'SAFEKEEPER_REMOTE_STORAGE',
  'auth-public-key': 'STRATA_AUTH_PUBLIC_KEY_FILE',
  'auth-hs256-secret-file': 'STRATA_AUTH_HS256_SECRET_FILE',
  'tls-cert': 'STRATA_TLS_CERT_FILE',
  'tls-key': 'STRATA_TLS_KEY_FILE',
  'wal-segment-bytes': 'SAFEKEEPER_WAL_SEGMENT_BYTES',
  peers: 'SAFEKEEPER_PEERS',
  'token-file': 'SAFEKEEPER_TOKEN_FILE',
} as const;

const peerEntry = z
  .string()
  .trim()
  .regex(/^[0-9]+=\S+$/, 'a peer is ID=URL, e.g. 2=http://127.0.0.1:7677')
  .transform((e) => {
    const at = e.indexOf('=');
    return { id: Number(e.slice(0, at)), url: e.slice(at + 1) };
  })
  .pipe(
    z.object({
      id: z.number().int().min(1).max(0xffff_ffff),
      url: z.url({ protocol: /^https?$/ }).transform((u) => u.replace(/\/+$/, '')),
    }),
  );

const peersSchema = z
  .string()
  .transform((s) => s.split(',').filter((e) => e.trim() !== ''))
  .pipe(z.array(peerEntry).min(1, 'list at least one peer'))
  .refine((peers) => new Set(peers.map((p) => p.id)).size === peers.length, 'a peer ID is listed twice');

const configSchema = z
  .object({
    id: z.coerce.number().int().min(1).max(0xffff_ffff),
    listen: listenSchema.default({ host: '127.0.0.1', port: 7676 }),
    data: z.string().min(1),
    'remote-storage': remoteStorageUrlFlag,
    'auth-public-key': z.string().min(1).optional(),
    'auth-hs256-secret-file': z.string().min(1).optional(),
    'tls-cert': z.string().min(1).optional(),
    'tls-key': z.string().min(1).optional(),
    'wal-segment-bytes': z.coerce
      .number()
      .int()
      .min(1 << 16)
      .max(1 << 30)
      .refine((n) => (n & (n - 1)) === 0, 'must be a power of two')
      .optional(),
    peers: peersSchema.optional(),
    'token-file': z.string().min(1).optional(),
  })
  .strict()
  .refine((c) => !(c['auth-public-key'] && c['auth-hs256-secret-file']), 'configure one JWT key, not both')
  .refine((c) => !!c['tls-cert'] === !!c['tls-key'], 'TLS needs both a certificate and a key');

export interface SafekeeperConfig {
  nodeId: number;
  listen: { host: string; port: number };
  dataDir: string;
  remoteStorageUrl: string | undefined;
  auth: { publicKeyFile: string | undefined; hs256SecretFile: string | undefined };
  tls: { certFile: string; keyFile: string } | undefined;
  walSegmentBytes: number | undefined;
  /** Other safekeepers by node ID (this node's own entry dropped); peer recovery runs only when set. */
  peers: ReadonlyMap<number, string> | undefined;
  /** A token (scope safekeeperdata or admin) this safekeeper presents to its peers, for peer recovery on clusters with auth. */
  tokenFile?: string | undefined;
  /** The S3 region of a remote storage URL that names none (AWS_REGION, as the AWS tools read it). */
  awsRegion?: string | undefined;
}

/** The configuration from flags, else the environment (the process's by default: the one place it is read). */
export function loadConfig(argv: readonly string[], env: Readonly<Record<string, string | undefined>> = process.env, cwd: string = process.cwd()): SafekeeperConfig {
  const c = loadFlags(FLAGS, configSchema, argv, env);
  const abs = (p: string) => (isAbsolute(p) ? p : resolve(cwd, p));
  return {
    nodeId: c.id,
    listen: c.listen,
    dataDir: abs(c.data),
    remoteStorageUrl: c['remote-storage'],
    auth: {
      publicKeyFile: c['auth-public-key'] && abs(c['auth-public-key']),
      hs256SecretFile: c['auth-hs256-secret-file'] && abs(c['auth-hs256-secret-file']),
    },
    tls: c['tls-cert'] && c['tls-key'] ? { certFile: abs(c['tls-cert']), keyFile: abs(c['tls-key']) } : undefined,
    walSegmentBytes: c['wal-segment-bytes'],
    peers: c.peers && new Map(c.peers.filter((p) => p.id !== c.id).map((p) => [p.id, p.url])),
    tokenFile: c['token-file'] && abs(c['token-file']),
    // Empty counts as unset, as for the flags' variables.
    awsRegion: env['AWS_REGION'] || undefined,
  };
}
