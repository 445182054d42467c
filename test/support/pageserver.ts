/**
 * A real page server process (`./strata pageserver`) on loopback for
 * integration tests: start, kill -9, SIGTERM, restart on the same data
 * directory.
 */
import { join } from 'node:path';
import { serviceProcess, type ServiceProcess } from './service-process.js';

export type PageserverProcess = ServiceProcess;

export function pageserver(baseDir: string, safekeepers: string[], extraArgs: string[] = []): Promise<PageserverProcess> {
  const dataDir = join(baseDir, 'ps');
  return serviceProcess({
    name: 'page server',
    dataDir,
    args: (port) => ['pageserver', '--listen', `127.0.0.1:${port}`, '--data', dataDir, '--safekeepers', safekeepers.join(','), ...extraArgs],
  });
}
