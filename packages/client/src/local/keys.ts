/**
 * Where a local cluster keeps its key pair and role tokens (`$STRATA_HOME/keys`):
 * the CLI creates them at `up`; the services are started with them.
 */
import { join } from 'node:path';

export interface ClusterKeys {
  readonly publicKeyFile: string;
  readonly privateKeyFile: string;
  readonly adminTokenFile: string;
  readonly pageserverTokenFile: string;
  readonly safekeeperTokenFile: string;
}

export function keyPaths(home: string): ClusterKeys {
  const dir = join(home, 'keys');
  return {
    publicKeyFile: join(dir, 'auth.pub'),
    privateKeyFile: join(dir, 'auth.key'),
    adminTokenFile: join(dir, 'admin.jwt'),
    pageserverTokenFile: join(dir, 'pageserver.jwt'),
    safekeeperTokenFile: join(dir, 'safekeeper.jwt'),
  };
}
