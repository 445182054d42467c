/**
 * Safekeepers: per-timeline consensus state of every member; membership
 * changes driven from here through @strata/client's MembershipDriver (the
 * same as `strata safekeeper membership`); nodes added and removed by
 * starting and stopping their processes on this host (@strata/client/local).
 */
import { z } from 'zod';
import type { ConsoleDeps } from '../deps';
import { addLocalSafekeeper, changeLocalMembership, describeMembershipProgress, type MembershipChangeResult, type MembershipProgress, removeLocalSafekeeper, type ServiceHost } from '@strata/client/local';
import { hostEnvironment } from '../../env';
import { invalid, notFound } from './errors';
import { viaLocal } from './local-cluster';
import { hexId } from './inputs';
import { callService } from './http';
import { defineOperation } from './operations';
import { refreshLocalCluster } from './registry';
import { safekeeperTimelines } from './schemas';
import { pageserverTarget, safekeeperTargets } from './cluster';
import { errorMessage } from './errors';

export async function safekeeperOverview(deps: ConsoleDeps) {
  const c = await refreshLocalCluster(deps);
  const targets = safekeeperTargets(c);
  const per = await Promise.all(
    targets.map(async (t) => {
      try {
        const r = await callService(t, `/v1/tenants/${c.registry.tenantId}/timelines`, safekeeperTimelines, { timeoutMs: 2_000 });
        return { id: t.id, url: t.url, healthy: true, error: null, timelines: r.timelines };
      } catch (e) {
        return { id: t.id, url: t.url, healthy: false, error: errorMessage(e), timelines: [] };
      }
    }),
  );
  const timelineIds = [...new Set(per.flatMap((p) => p.timelines.map((t) => t.timelineId)))];
  const branchOf = (tl: string) => c.registry.branches.find((b) => b.timelineId === tl)?.name ?? null;
  return {
    nodes: per.map((p) => ({ id: p.id, url: p.url, healthy: p.healthy, error: p.error })),
    timelines: timelineIds.map((timelineId) => ({
      timelineId,
      branch: branchOf(timelineId),
      members: per.flatMap((p) => {
        const t = p.timelines.find((x) => x.timelineId === timelineId);
        return t
          ? [{
              nodeId: p.id,
              term: t.term,
              generation: t.conf.generation,
              members: t.conf.members,
              newMembers: t.conf.newMembers ?? null,
              flushLsn: t.flushLsn,
              commitLsn: t.commitLsn,
              backupLsn: t.backupLsn,
              remoteConsistentLsn: t.remoteConsistentLsn,
            }]
          : [];
      }),
    })),
  };
}

/** The joint-consensus steps, as the driver reports its phases. */
const MEMBERSHIP_STEPS = ['plan the change', 'joint configuration (old and new)', 'pull the timeline into new members', 'bump the term', 'new members catch up', 'final configuration', 'done'] as const;
const PHASE_STEP: Record<string, number> = { joint: 1, pull: 2, bump: 3, catchup: 4, final: 5, done: 6 };

export const membershipChange = defineOperation({
  kind: 'safekeepers.membership',
  input: z.object({
    timelineId: hexId,
    members: z.array(z.number().int().positive()).min(1).max(15).refine((m) => new Set(m).size === m.length, 'a node is listed twice'),
  }),
  steps: () => [...MEMBERSHIP_STEPS],
  async run(ctx, input) {
    // A membership change is a consensus protocol of its own: it is driven to its end, never abandoned half way.
    ctx.pointOfNoReturn();
    const c = await refreshLocalCluster(ctx.deps);
    const known = new Set(c.registry.safekeepers.map((s) => s.id));
    const unknown = input.members.filter((m) => !known.has(m));
    if (unknown.length) throw invalid(`safekeeper ${unknown.join(', ')} is not in the cluster registry`);
    if (!c.registry.branches.some((b) => b.timelineId === input.timelineId)) throw notFound(`timeline ${input.timelineId}`);
    let current = 0;
    await ctx.mark(0, 'running');
    const advance = async (to: number, detail?: string) => {
      if (to <= current) {
        if (detail) await ctx.mark(current, 'running', detail);
        return;
      }
      for (let i = current; i < to; i++) await ctx.mark(i, 'finished');
      current = to;
      await ctx.mark(current, 'running', detail);
    };
    // Progress arrives faster than its writes: keep them in order.
    let chain = Promise.resolve();
    const onProgress = (p: MembershipProgress) => {
      const line = describeMembershipProgress(p);
      const to = p.kind === 'phase' ? PHASE_STEP[p.phase] : undefined;
      chain = chain.then(() => advance(to ?? current, line)).catch(() => undefined);
    };
    let r: MembershipChangeResult;
    try {
      r = await viaLocal({ label: 'safekeepers', url: c.registry.safekeepers.map((s) => s.url).join(','), token: c.token }, 'membership change', () =>
        changeLocalMembership(ctx.deps.home, { timelineId: input.timelineId, members: input.members, timeoutMs: 300_000, onProgress }),
      );
    } catch (e) {
      await chain;
      await ctx.mark(current, 'failed', errorMessage(e));
      throw e;
    }
    await chain;
    const summary = `generation ${r.generation} members ${r.members.join(',')}${r.changed ? '' : ' (unchanged)'}`;
    for (let i = current; i < MEMBERSHIP_STEPS.length; i++) await ctx.mark(i, 'finished', i === MEMBERSHIP_STEPS.length - 1 ? summary : undefined);
    return { generation: r.generation, members: [...r.members] };
  },
});

/** The console's host for the services it starts: this machine, the repository it runs from, its environment. */
function serviceHost(deps: ConsoleDeps, detail: (line: string) => void): ServiceHost {
  return { home: deps.home, repoRoot: deps.repoRoot, baseEnv: hostEnvironment(), log: detail };
}

/**
 * A new safekeeper node for the local cluster: a free port, registered in cluster.json, started,
 * the other safekeepers and the page server restarted to know it (their command lines name the
 * nodes). It holds no timeline until a membership change moves one there.
 */
export const safekeeperAdd = defineOperation({
  kind: 'safekeepers.add',
  input: z.object({}),
  steps: () => ['start a new safekeeper node and restart the others and the page server to know it', 'refresh the registry'],
  async run(ctx) {
    // Starting a node restarts the others and the page server: not something to stop half way.
    ctx.pointOfNoReturn();
    const added = await ctx.step(0, async (detail) => {
      const r = await viaLocal(pageserverTarget(ctx.cluster), 'safekeeper add', () => addLocalSafekeeper(serviceHost(ctx.deps, detail)), 'safekeeper add');
      detail(`safekeeper ${r.id} at ${r.url}`);
      return r;
    });
    await ctx.step(1, () => refreshLocalCluster(ctx.deps));
    return added;
  },
});

/**
 * Decommissions a safekeeper node of the local cluster: refused (CONFLICT) while any branch's
 * timeline still names it or when only three would remain; else stopped, unregistered, its data
 * deleted, the page server restarted on the remaining list.
 */
export const safekeeperRemove = defineOperation({
  kind: 'safekeepers.remove',
  input: z.object({ nodeId: z.number().int().positive() }),
  steps: () => ['stop and unregister the node, restart the page server without it', 'refresh the registry'],
  async run(ctx, input) {
    ctx.pointOfNoReturn();
    await ctx.step(0, async (detail) => {
      await viaLocal(pageserverTarget(ctx.cluster), 'safekeeper remove', () => removeLocalSafekeeper(serviceHost(ctx.deps, detail), input.nodeId), 'safekeeper remove');
      detail(`safekeeper ${input.nodeId} removed`);
    });
    await ctx.step(1, () => refreshLocalCluster(ctx.deps));
    return { nodeId: input.nodeId };
  },
});
