/**
 * The controller program's command line (`apps/compute/src/bin.ts`): flags
 * checked with zod before anything starts; the secrets (token, database
 * password) come from the environment (env.ts), never from argv.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { z } from 'zod';
import { lsnDecimal } from '@strata/core/json';
import { join } from 'node:path';
import type { ControllerArgs } from './controller.js';
import type { ControllerEnv } from './env.js';

const hex32 = z.string().regex(/^[0-9a-f]{32}$/, '32 lowercase hex digits');
const portText = z.string().regex(/^\d{1,5}$/).transform(Number).pipe(z.number().int().min(1).max(65535));
const mib = (min: number) => z.string().regex(/^\d+$/).transform(Number).pipe(z.number().int().min(min).max(1 << 20));

const flagsSchema = z.object({
  pageserver: z.string().min(1),
  safekeepers: z.string().min(1).optional(),
  'safekeeper-directory': z.string().min(1).optional(),
  tenant: hex32,
  timeline: hex32,
  port: portText.optional(),
  data: z.string().min(1),
  name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/).optional(),
  'read-only': z.boolean(),
  lsn: lsnDecimal.transform((v) => BigInt(v)).optional(),
  'control-port': portText.optional(),
  'auth-public-key': z.string().min(1).optional(),
  'openable-root': z.array(z.string().min(1)).optional(),
  storage: z.enum(['basebackup', 'fuse', 'auto']).optional(),
  'lfc-mib': mib(1).optional(),
  'buffer-pool-mib': mib(8).optional(),
});

export class ControllerUsageError extends Error {
  override readonly name = 'ControllerUsageError';
}

export function parseControllerArgs(argv: string[], env: ControllerEnv, io: Pick<ControllerArgs, 'out' | 'log'>): ControllerArgs {
  const { values, positionals } = parsedFlags(argv);
  if (positionals.length) throw new ControllerUsageError(`unexpected argument ${positionals[0]}`);
  const r = flagsSchema.safeParse(values);
  if (!r.success) throw new ControllerUsageError(r.error.issues.map((i) => `--${i.path.join('.')}: ${i.message}`).join('; '));
  const f = r.data;
  return {
    pageserver: f.pageserver,
    safekeepers: f.safekeepers,
    safekeeperDirectory: f['safekeeper-directory'],
    tenantId: f.tenant,
    timelineId: f.timeline,
    port: f.port,
    dataDir: f.data,
    defaultDataDir: (name) => join(f.data, name),
    readOnly: f['read-only'],
    lsn: f.lsn,
    name: f.name,
    controlPort: f['control-port'],
    token: env.token,
    dbUser: env.dbUser,
    dbPassword: env.dbPassword,
    authPublicKeyFile: f['auth-public-key'],
    openableRoots: f['openable-root'],
    storage: f.storage,
    lfcMib: f['lfc-mib'],
    bufferPoolMib: f['buffer-pool-mib'],
    ...io,
  };
}

/**
 * The flags of a compute start, as node's parseArgs takes them: this program's and the CLI's
 * `compute start`, which adds its own (--branch, --at) and leaves out --openable-root (it
 * gives the controller STRATA_HOME itself).
 */
export const COMPUTE_START_FLAGS = {
  pageserver: { type: 'string' },
  safekeepers: { type: 'string' },
  'safekeeper-directory': { type: 'string' },
  tenant: { type: 'string' },
  timeline: { type: 'string' },
  port: { type: 'string' },
  data: { type: 'string' },
  name: { type: 'string' },
  'read-only': { type: 'boolean', default: false },
  lsn: { type: 'string' },
  'control-port': { type: 'string' },
  'auth-public-key': { type: 'string' },
  storage: { type: 'string' },
  'lfc-mib': { type: 'string' },
  'buffer-pool-mib': { type: 'string' },
} as const satisfies NonNullable<ParseArgsConfig['options']>;

/** node's parseArgs, its own refusals (an unknown flag, a value that looks like a flag) as usage errors too. */
function parsedFlags(argv: string[]) {
  try {
    return parseArgs({
      args: argv,
      allowPositionals: true,
      options: { ...COMPUTE_START_FLAGS, 'openable-root': { type: 'string', multiple: true } },
    });
  } catch (e) {
    throw new ControllerUsageError(e instanceof Error ? e.message : String(e));
  }
}
