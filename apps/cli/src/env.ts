/**
 * The CLI's environment. The only place `strata` reads process.env; read on
 * each call, since one process (a test, the console's launcher) may point
 * STRATA_HOME elsewhere between commands.
 */
import { z } from 'zod';

const cliEnvSchema = z.object({
  /** The local cluster's home (default `.strata` in the working directory). */
  STRATA_HOME: z.string().optional(),
  /** A JWT for the services; else the local cluster's admin token. */
  STRATA_TOKEN: z.string().optional(),
  STRATA_DB_USER: z.string().optional(),
  STRATA_DB_PASSWORD: z.string().optional(),
});

export interface CliEnv {
  readonly home: string | undefined;
  readonly token: string | undefined;
  readonly dbUser: string | undefined;
  readonly dbPassword: string | undefined;
}

export function cliEnv(env: Record<string, string | undefined> = process.env): CliEnv {
  const e = cliEnvSchema.parse(env);
  // Empty means unset, as a shell's `STRATA_TOKEN= strata ...` intends.
  return { home: e.STRATA_HOME, token: e.STRATA_TOKEN || undefined, dbUser: e.STRATA_DB_USER || undefined, dbPassword: e.STRATA_DB_PASSWORD || undefined };
}
