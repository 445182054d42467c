/**
 * Safekeepers: per-timeline consensus state of every member, and membership
 * changes driven from here through @strata/client's MembershipDriver (the
 * same as `strata safekeeper membership`). Adding and removing a node still
 * runs `strata safekeeper add/remove`: that starts and restarts the cluster's
 * service processes (see docs/console.md).
 */
import { z } from 'zod';
import type { ConsoleDeps } from '../deps';
import { changeLocalMembership, describeMembershipProgress, type MembershipChangeResult, type MembershipProgress } from '@strata/client/local';
import { parseLine, runCli } from './cli';
import { invalid, notFound } from './errors';
import { viaLocal } from './local-cluster';
import { hexId } from './inputs';
import { callService } from './http';
import { defineOperation } from './operations';
import { refreshLocalCluster } from './registry';
import { safekeeperTimelines } from './schemas';
import { safekeeperTargets } from './cluster';
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

export const SAFEKEEPER_LINE = /^safekeeper (\d+) (http:\/\/\S+)$/;

/**
 * A new safekeeper node for the local cluster (`strata safekeeper add`: a free port, registered in
 * cluster.json, the page server restarted to follow it). It holds no timeline until a membership
 * change moves one there.
 */
export const safekeeperAdd = defineOperation({
  kind: 'safekeepers.add',
  input: z.object({}),
  steps: () => ['start a new safekeeper node (strata safekeeper add)', 'refresh the registry'],
  async run(ctx) {
    const added = await ctx.step(0, async (detail) => {
      const { stdout } = await runCli(ctx.deps, ['safekeeper', 'add'], { timeoutMs: 180_000 });
      const r = parseLine(stdout, SAFEKEEPER_LINE, (m) => ({ id: Number(m[1]), url: m[2]! }), 'safekeeper add');
      detail(`safekeeper ${r.id} at ${r.url}`);
      return r;
    });
    await ctx.step(1, () => refreshLocalCluster(ctx.deps));
    return added;
  },
});

/**
 * Decommissions a safekeeper node of the local cluster (`strata safekeeper remove N`): the CLI refuses
 * while any branch's timeline still names it, and that refusal is the operation's typed error.
 */
export const safekeeperRemove = defineOperation({
  kind: 'safekeepers.remove',
  input: z.object({ nodeId: z.number().int().positive() }),
  steps: () => ['stop and unregister the node (strata safekeeper remove)', 'refresh the registry'],
  async run(ctx, input) {
    await ctx.step(0, async (detail) => {
      await runCli(ctx.deps, ['safekeeper', 'remove', String(input.nodeId)], { timeoutMs: 180_000 });
      detail(`safekeeper ${input.nodeId} removed`);
    });
    await ctx.step(1, () => refreshLocalCluster(ctx.deps));
    return { nodeId: input.nodeId };
  },
});
