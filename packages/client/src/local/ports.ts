/** Loopback ports for a local cluster's processes. */
import * as net from 'node:net';
import { LocalClusterError } from './errors.js';
import type { LocalClusterState } from './state.js';

/** A free loopback port (never 3306, MariaDB's default, which a stray server may take meanwhile). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = a !== null && typeof a === 'object' ? a.port : 0;
      s.close(() => (port > 0 && port !== 3306 ? resolve(port) : reject(new Error('no free port'))));
    });
  });
}

/** A free loopback port no process of the cluster is registered on (it may be stopped now). */
export async function unusedPort(state: LocalClusterState): Promise<number> {
  const taken = new Set([...state.safekeepers.map((s) => s.port), state.pageserver.port, ...Object.values(state.computePorts), ...(state.consolePort ? [state.consolePort] : []), ...Object.values(state.endpoints ?? {}).map((e) => e.port)]);
  for (let i = 0; i < 100; i++) {
    const port = await freePort();
    if (!taken.has(port)) return port;
  }
  throw new LocalClusterError('failed', 'no free port that the cluster does not use');
}

