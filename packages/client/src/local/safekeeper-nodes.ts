/**
 * Adding and removing a safekeeper node of a local cluster: a process
 * started or stopped on this host, the registry changed, and the processes
 * whose command lines name the safekeepers restarted (the other safekeepers'
 * `--peers`, the page server's `--safekeepers`). A node holds no timeline
 * until a membership change moves one there, and is refused removal while
 * one still names it.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { lsnString } from '@strata/core/json';
import { serviceRequest } from '../http.js';
import { daemonPid, stopDaemon } from './daemons.js';
import { LocalClusterError } from './errors.js';
import { unusedPort } from './ports.js';
import { ensureServices, type ServiceHost } from './services.js';
import { localAdminToken, type LocalClusterState, requireLocalCluster, updateLocalCluster } from './state.js';
import { timelineConf } from './timeline-members.js';

const SAFEKEEPER_STOP_MS = 30_000;
const PAGESERVER_STOP_MS = 60_000;
/** How long a restarted safekeeper may take to be back in its timelines' quorums before the next one goes down. */
const REJOIN_WAIT_MS = 15_000;

const timelineCommits = z.object({
  timelines: z.array(z.object({ timelineId: z.string(), commitLsn: lsnString, conf: z.object({ members: z.array(z.number()), newMembers: z.array(z.number()).optional() }) })),
});

/** The commit LSN of each timeline one safekeeper is a member of (by its own configuration); empty when it does not answer. */
async function commitLsns(url: string, id: number, tenantId: string, token: string): Promise<Map<string, bigint>> {
  const r = await serviceRequest({ url, token }, `/v1/tenants/${tenantId}/timelines`, { timeoutMs: 3_000 }).catch(() => undefined);
  const p = r?.ok ? timelineCommits.safeParse(await r.json().catch(() => null)) : undefined;
  if (!p?.success) await r?.body?.cancel().catch(() => undefined);
  const member = (t: { conf: { members: number[]; newMembers?: number[] | undefined } }) => t.conf.members.includes(id) || (t.conf.newMembers ?? []).includes(id);
  return new Map(p?.success ? p.data.timelines.filter(member).map((t) => [t.timelineId, t.commitLsn]) : []);
}

/**
 * Restarts the running safekeepers `older` so that their --peers name the new
 * node `added`: a safekeeper pulls only from its peers and takes a new
 * timeline naming only known nodes. One at a time; before the next goes
 * down, the restarted one has caught up with the commit LSN its peers had
 * when it came back, so no timeline has two members away at once.
 */
async function restartForPeers(host: ServiceHost, next: LocalClusterState, older: LocalClusterState['safekeepers'], added: number): Promise<void> {
  const admin = localAdminToken(next);
  for (const sk of older) {
    if (daemonPid(host.home, `safekeeper-${sk.id}`) === undefined) continue;
    host.log(`restarting safekeeper ${sk.id} with safekeeper ${added} among its peers`);
    await stopDaemon(host.home, `safekeeper-${sk.id}`, SAFEKEEPER_STOP_MS);
    await ensureServices(host, next);
    const target = new Map<string, bigint>();
    for (const other of next.safekeepers) {
      if (other.id === sk.id) continue;
      for (const [tl, commit] of await commitLsns(other.url, other.id, next.tenantId, admin)) target.set(tl, commit > (target.get(tl) ?? 0n) ? commit : (target.get(tl) ?? 0n));
    }
    const deadline = Date.now() + REJOIN_WAIT_MS;
    for (;;) {
      const mine = await commitLsns(sk.url, sk.id, next.tenantId, admin);
      const behind = [...mine].filter(([tl, commit]) => commit < (target.get(tl) ?? 0n)).map(([tl]) => tl);
      if (behind.length === 0) break;
      if (Date.now() > deadline) {
        host.log(`safekeeper ${sk.id} has not caught up on ${behind.length} timeline(s) after ${REJOIN_WAIT_MS} ms (no proposer running?): going on`);
        break;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/** A new safekeeper node (the next id), started and registered; the others and the page server restart to know it. */
export async function addLocalSafekeeper(host: ServiceHost): Promise<{ id: number; url: string }> {
  const before = requireLocalCluster(host.home);
  const port = await unusedPort(before);
  let added: { id: number; port: number; url: string } | undefined;
  const next = await updateLocalCluster(host.home, (now) => {
    added = { id: Math.max(...now.safekeepers.map((s) => s.id)) + 1, port, url: `http://127.0.0.1:${port}` };
    return { ...now, safekeepers: [...now.safekeepers, added] };
  });
  const sk = added!;
  await ensureServices(host, next);
  // Peers lists and the page server's safekeeper list are command-line flags: restart those that run with the old list.
  await restartForPeers(host, next, before.safekeepers, sk.id);
  host.log('restarting the page server to follow the new safekeeper');
  await stopDaemon(host.home, 'pageserver', PAGESERVER_STOP_MS);
  await ensureServices(host, next);
  return { id: sk.id, url: sk.url };
}

/**
 * Decommissions a safekeeper node: refused while any branch's timeline names
 * it, or when fewer than three nodes would remain. Stops it, unregisters it,
 * deletes its data, and restarts the page server on the remaining list.
 */
export async function removeLocalSafekeeper(host: ServiceHost, id: number): Promise<void> {
  const state = requireLocalCluster(host.home);
  if (!state.safekeepers.some((s) => s.id === id)) throw new LocalClusterError('notFound', `no safekeeper ${id} (safekeepers: ${state.safekeepers.map((s) => s.id).join(', ')})`);
  if (state.safekeepers.length <= 3) throw new LocalClusterError('conflict', `safekeeper ${id} is one of the last three: a timeline needs three nodes to keep a quorum through a failure`);
  for (const b of state.branches) {
    const conf = await timelineConf(state, b.timelineId);
    if (conf && (conf.members.includes(id) || (conf.newMembers ?? []).includes(id))) {
      throw new LocalClusterError('conflict', `safekeeper ${id} is a member of branch ${b.name}'s timeline (generation ${conf.generation}: ${conf.members.join(',')}): move it first with a membership change`);
    }
  }
  host.log(`stopping safekeeper ${id}`);
  await stopDaemon(host.home, `safekeeper-${id}`, SAFEKEEPER_STOP_MS);
  const next = await updateLocalCluster(host.home, (now) => ({ ...now, safekeepers: now.safekeepers.filter((s) => s.id !== id) }));
  rmSync(join(host.home, 'safekeepers', String(id)), { recursive: true, force: true });
  host.log('restarting the page server without it');
  await stopDaemon(host.home, 'pageserver', PAGESERVER_STOP_MS);
  await ensureServices(host, next);
}
