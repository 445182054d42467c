/**
 * The routes each service really has: its app is built in-process over an
 * empty temp directory (the same createApp the process runs) and its route
 * table read (hono's `app.routes`). A route found here without an entry in
 * routes.ts is still fuzzed (generically) and named in the report, so a new
 * route is never silently left out. The upgraded streams are not hono
 * routes: routes.ts lists them.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { memoryLogger, Registry } from '@strata/service-kit';
import { createApp as createComputeApp } from '../../../apps/compute/src/app.js';
import type { Compute } from '../../../apps/compute/src/compute.js';
import { createApp as createPageserverApp } from '../../../apps/pageserver/src/app.js';
import { PageserverMetrics } from '../../../apps/pageserver/src/metrics.js';
import { TenantManager } from '../../../apps/pageserver/src/tenant-manager.js';
import { testApp } from '../../../apps/safekeeper/src/app.test-util.js';
import type { Service } from './routes.js';

export interface RouteKey {
  readonly method: string;
  readonly path: string;
}

function table(routes: readonly { method: string; path: string }[]): RouteKey[] {
  const seen = new Map<string, RouteKey>();
  // Middleware is registered as ALL on /*; each validator of a route is one more entry with the same key.
  for (const r of routes) if (r.method !== 'ALL') seen.set(`${r.method} ${r.path}`, { method: r.method, path: r.path });
  return [...seen.values()];
}

export async function discoverRoutes(): Promise<Record<Service, RouteKey[]>> {
  const sk = await testApp();
  const psDir = mkdtempSync(join(tmpdir(), 'strata-fuzz-discover-'));
  const tenants = TenantManager.open({ dataDir: psDir, log: memoryLogger() });
  try {
    const ps = createPageserverApp({ version: 'discover', tenants, metrics: new PageserverMetrics(), verifier: null, log: memoryLogger() });
    // Never started or stopped: only its route table is read.
    const idle: Compute = {
      name: 'discover',
      port: 0,
      mariadbdPid: 0,
      startLsn: 0n,
      connectionUrl: '',
      datadir: '',
      metrics: new Registry(),
      status: () => {
        throw new Error('not a running compute');
      },
      stamps: () => [],
      stop: () => Promise.resolve({ lsn: 0n }),
      done: new Promise(() => undefined),
    };
    const compute = createComputeApp({ compute: idle, onStop: () => undefined, verifier: null, log: memoryLogger() });
    return { safekeeper: table(sk.app.routes), pageserver: table(ps.routes), compute: table(compute.routes) };
  } finally {
    tenants.close();
    rmSync(psDir, { recursive: true, force: true });
    await sk.close();
  }
}
