/**
 * The compute's environment: where the MariaDB binaries are. The only place
 * the compute reads process.env (everything else comes in ComputeOptions).
 */
import { z } from 'zod';

const computeEnvSchema = z.object({
  STRATA_MARIADBD: z.string().optional(),
  STRATA_MARIADB_INSTALL_DB: z.string().optional(),
  /** The OS account mariadbd runs as when the controller is root (default `mysql`). */
  STRATA_MARIADBD_USER: z.string().regex(/^[a-z_][a-z0-9_-]{0,31}$/).optional(),
  /** Where a compute's datadir comes from when its options do not say (basebackup, fuse, auto). */
  STRATA_COMPUTE_STORAGE: z.enum(['basebackup', 'fuse', 'auto']).optional(),
  /** Where the FUSE check looks for fusermount. */
  PATH: z.string().optional(),
});

export interface ComputeEnv {
  readonly mariadbdPath: string;
  readonly installDbPath: string;
  readonly mariadbdUser: string;
  readonly storage: 'basebackup' | 'fuse' | 'auto' | undefined;
  readonly searchPath: string;
}

export function loadComputeEnv(env: Record<string, string | undefined> = process.env): ComputeEnv {
  const e = computeEnvSchema.parse(env);
  return {
    mariadbdPath: e.STRATA_MARIADBD ?? '/usr/sbin/mariadbd',
    installDbPath: e.STRATA_MARIADB_INSTALL_DB ?? '/usr/bin/mariadb-install-db',
    mariadbdUser: e.STRATA_MARIADBD_USER ?? 'mysql',
    storage: e.STRATA_COMPUTE_STORAGE,
    searchPath: e.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin',
  };
}

const controllerEnvSchema = z.object({
  STRATA_TOKEN: z.string().optional(),
  STRATA_DB_USER: z.string().optional(),
  STRATA_DB_PASSWORD: z.string().optional(),
});

/** The controller program's secrets (apps/compute/src/bin.ts): in the environment, never in argv, which /proc shows every user. */
export interface ControllerEnv {
  readonly token: string | undefined;
  readonly dbUser: string | undefined;
  readonly dbPassword: string | undefined;
}

export function loadControllerEnv(env: Record<string, string | undefined> = process.env): ControllerEnv {
  const e = controllerEnvSchema.parse(env);
  // Empty means unset, as a shell's `STRATA_TOKEN= …` intends.
  return { token: e.STRATA_TOKEN || undefined, dbUser: e.STRATA_DB_USER || undefined, dbPassword: e.STRATA_DB_PASSWORD || undefined };
}
