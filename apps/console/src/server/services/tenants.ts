/**
 * Tenants: the local cluster's own tenant (from cluster.json) plus tenants
 * created or imported from the console, which the page server stores
 * (computes and branches of the registry serve the registry's tenant).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { tenantDelete as pageserverTenantDelete, tenantImport, tenantList as pageserverTenantList } from '@strata/client/pageserver-api';
import { createTenant, deleteTenant, findTenant, listTenants } from '@strata/db';
import type { ConsoleDeps } from '../deps';
import { conflict, ConsoleError, invalid, notFound } from './errors';
import { callClient } from './http';
import { defineOperation } from './operations';
import { refreshLocalCluster } from './registry';
import { pageserverTarget } from './cluster';
import { branchName } from './inputs';

export async function tenantList(deps: ConsoleDeps) {
  const c = await refreshLocalCluster(deps);
  const rows = await listTenants(deps.db, c.cluster.id);
  let stored: Map<string, number> = new Map();
  try {
    const tenants = await callClient(pageserverTarget(c), 'tenant list', (t) => pageserverTenantList(t, { timeoutMs: 2_000 }));
    stored = new Map(tenants.map((t) => [t.tenantId, t.timelines]));
  } catch {
    // The page server being down shows as unknown timeline counts, not as a failed page.
  }
  return rows.map((t) => ({ ...t, local: t.tenantId === c.registry.tenantId, timelines: stored.get(t.tenantId) ?? null }));
}

function installDb(datadir: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('mariadb-install-db', ['--no-defaults', `--datadir=${datadir}`, '--auth-root-authentication-method=normal', '--skip-test-db'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    child.on('error', (e) => reject(new ConsoleError('CLI_FAILED', `mariadb-install-db: ${e.message}`)));
    child.on('close', (code) => (code === 0 ? resolve() : reject(new ConsoleError('CLI_FAILED', `mariadb-install-db exited ${code}: ${err.trim().split('\n').slice(-2).join(' ')}`))));
  });
}

export const tenantCreate = defineOperation({
  kind: 'tenant.create',
  input: z.object({ name: branchName, datadir: z.string().startsWith('/').optional() }),
  steps: (i) => (i.datadir ? ['import the datadir (page server API)', 'register the tenant'] : ['create a fresh database (mariadb-install-db)', 'import it (page server API)', 'register the tenant']),
  async run(ctx, input) {
    const c = await refreshLocalCluster(ctx.deps);
    if ((await listTenants(ctx.deps.db, c.cluster.id)).some((t) => t.name === input.name)) throw conflict(`tenant ${input.name} already exists`);
    let datadir = input.datadir;
    let next = 0;
    if (!datadir) {
      const dir = join(ctx.deps.home, 'console', 'tenants', input.name);
      if (existsSync(dir)) throw conflict(`${dir} already exists`);
      mkdirSync(dir, { recursive: true });
      await ctx.step(next++, () => installDb(dir));
      datadir = dir;
    } else if (!existsSync(datadir)) {
      throw invalid(`${datadir} does not exist on the console's machine`);
    }
    // The page server's import and the console's record of it go together: no cancel between them.
    ctx.pointOfNoReturn();
    const r = await ctx.step(next++, async (detail) => {
      const reply = await callClient(pageserverTarget(c), 'tenant import', (t) => tenantImport(t, datadir, undefined, { timeoutMs: 300_000 }));
      detail(`tenant ${reply.tenantId}: ${reply.pages} pages at LSN ${reply.lsn}`);
      // The operation's result is JSON: the LSN as decimal text, as the page server sent it.
      return { ...reply, lsn: reply.lsn.toString() };
    });
    await ctx.step(next, () => createTenant(ctx.deps.db, { clusterId: c.cluster.id, tenantId: r.tenantId, name: input.name }));
    return r;
  },
});

export const tenantDelete = defineOperation({
  kind: 'tenant.delete',
  input: z.object({ id: z.string().uuid() }),
  steps: () => ['delete it on the page server (every timeline, children first)', 'unregister the tenant'],
  async run(ctx, input) {
    const c = await refreshLocalCluster(ctx.deps);
    const t = await findTenant(ctx.deps.db, input.id);
    if (!t) throw notFound(`tenant ${input.id}`);
    if (t.tenantId === c.registry.tenantId) throw conflict('the local cluster\'s own tenant cannot be deleted from the console (./strata down)');
    // A half-deleted tenant is worse than either end.
    ctx.pointOfNoReturn();
    await ctx.step(0, async (detail) => {
      const deleted = await callClient(pageserverTarget(c), `delete tenant ${t.tenantId}`, (ps) => pageserverTenantDelete(ps, t.tenantId, { timeoutMs: 120_000 }));
      detail(`${deleted} timeline(s) deleted`);
    });
    await ctx.step(1, () => deleteTenant(ctx.deps.db, t.id));
    return { deleted: t.name };
  },
});
