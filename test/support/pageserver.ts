/**
 * A real page server process (`./strata pageserver`) on loopback for
 * integration tests: start, kill -9, SIGTERM, restart on the same data
 * directory.
 */
import { join } from 'node:path';
import { type RunFrom, serviceProcess, type ServiceProcess } from './service-process.js';

export type PageserverProcess = ServiceProcess;

/** `runFrom`: the built CLI (default, what users run) or its TypeScript source under tsx. */
export function pageserver(baseDir: string, safekeepers: string[], extraArgs: string[] = [], runFrom: RunFrom = 'built'): Promise<PageserverProcess> {
  const dataDir = join(baseDir, 'ps');
  return serviceProcess({
    name: runFrom === 'built' ? 'page server' : 'page server (from source, tsx)',
    runFrom,
    dataDir,
    args: (port) => ['pageserver', '--listen', `127.0.0.1:${port}`, '--data', dataDir, '--safekeepers', safekeepers.join(','), ...extraArgs],
  });
}
