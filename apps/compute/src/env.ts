/**
 * The compute's environment: where the MariaDB binaries are. The only place
 * the compute reads process.env (everything else comes in ComputeOptions).
 */
import { z } from 'zod';

const computeEnvSchema = z.object({
  STRATA_MARIADBD: z.string().optional(),
  STRATA_MARIADB_INSTALL_DB: z.string().optional(),
});

export interface ComputeEnv {
  readonly mariadbdPath: string;
  readonly installDbPath: string;
}

export function loadComputeEnv(env: Record<string, string | undefined> = process.env): ComputeEnv {
  const e = computeEnvSchema.parse(env);
  return {
    mariadbdPath: e.STRATA_MARIADBD ?? '/usr/sbin/mariadbd',
    installDbPath: e.STRATA_MARIADB_INSTALL_DB ?? '/usr/bin/mariadb-install-db',
  };
}
