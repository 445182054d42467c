/**
 * The console launcher's one environment reader, parsed with zod at start.
 * (The Next server it spawns reads its own in src/env.ts; the launcher sets
 * those variables.)
 */
import { z } from 'zod';

const launcherEnvSchema = z.object({
  /** An external Postgres; unset or empty: an embedded PGlite under the home. */
  DATABASE_URL: z
    .string()
    .optional()
    .transform((v) => v || undefined),
});

export interface LauncherEnv {
  readonly databaseUrl: string | undefined;
  /**
   * What the launcher's children (next build, next start) start from: the
   * whole environment (PATH, HOME, NODE_OPTIONS...), handed on rather than read.
   */
  readonly inherited: NodeJS.ProcessEnv;
}

export function loadLauncherEnv(source: NodeJS.ProcessEnv = process.env): LauncherEnv {
  const e = launcherEnvSchema.parse(source);
  return { databaseUrl: e.DATABASE_URL, inherited: source };
}
