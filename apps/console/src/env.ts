/**
 * The console's one environment reader. The launcher (launcher/start.ts) sets
 * these for the Next server it spawns; tests build their deps directly.
 */
import { z } from 'zod';

const envSchema = z.object({
  DATABASE_URL: z.string().min(1),
  /** The local cluster's home (cluster.json, keys, computes). */
  STRATA_HOME: z.string().min(1),
  /** The repository root: where the compute controller program is (apps/compute/src/bin.ts) for computes the console starts. */
  STRATA_REPO: z.string().min(1),
  /** The embedded PGlite server takes one connection only. */
  CONSOLE_DB_CONNECTIONS: z.coerce.number().int().min(1).max(50).default(5),
  CONSOLE_SESSION_TTL_HOURS: z.coerce.number().positive().max(24 * 30).default(12),
  CONSOLE_SCRAPE_INTERVAL_MS: z.coerce.number().int().min(0).default(5_000),
  CONSOLE_METRICS_RETENTION_HOURS: z.coerce.number().positive().default(24),
  CONSOLE_METRICS_ROWS_MAX: z.coerce.number().int().positive().default(200_000),
  /** Set on a TLS-terminated deployment so the session cookie is Secure. */
  CONSOLE_SECURE_COOKIE: z.enum(['true', 'false']).default('false'),
  /**
   * Set when the console sits behind one reverse proxy that sets or appends
   * X-Forwarded-For: only then is that header the client's address for the
   * per-address sign-in limit. Without a proxy a client writes the header
   * itself, and Next keeps what it wrote.
   */
  CONSOLE_TRUSTED_PROXY: z
    .enum(['true', 'false', '1', '0'])
    .default('false')
    .transform((v) => v === 'true' || v === '1'),
});

export type ConsoleEnv = z.infer<typeof envSchema>;

let cached: ConsoleEnv | undefined;

export function loadEnv(source: NodeJS.ProcessEnv = process.env): ConsoleEnv {
  const r = envSchema.safeParse(source);
  if (!r.success) {
    throw new Error(`console environment: ${r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  }
  return r.data;
}

export function env(): ConsoleEnv {
  cached ??= loadEnv();
  return cached;
}

/**
 * The environment a compute controller started by the console inherits
 * (PATH, STRATA_MARIADBD, …): the console's own, as the CLI's computes
 * inherit the CLI's.
 */
export function hostEnvironment(): NodeJS.ProcessEnv {
  return process.env;
}
