/**
 * Which safekeepers hold a timeline, asked of the safekeepers themselves:
 * the configuration with the highest generation any registered node reports.
 */
import { z } from 'zod';
import { serviceRequest } from '../http.js';
import { findLocalBranch, localAdminToken, type LocalBranch, type LocalClusterState } from './state.js';

const confReply = z.looseObject({ conf: z.object({ generation: z.number(), members: z.array(z.number()), newMembers: z.array(z.number()).optional() }) });
export type TimelineConf = z.infer<typeof confReply>['conf'];

/** A node that is down or never had the timeline says nothing; undefined when none has it. */
export async function timelineConf(state: LocalClusterState, timelineId: string): Promise<TimelineConf | undefined> {
  const token = localAdminToken(state);
  const replies = await Promise.all(
    state.safekeepers.map(async (sk) => {
      const r = await serviceRequest({ url: sk.url, token }, `/v1/tenants/${state.tenantId}/timelines/${timelineId}`, { timeoutMs: 3_000 }).catch(() => undefined);
      if (!r?.ok) {
        await r?.body?.cancel();
        return undefined;
      }
      const p = confReply.safeParse(await r.json().catch(() => null));
      return p.success ? p.data.conf : undefined;
    }),
  );
  return replies.reduce<TimelineConf | undefined>((best, c) => (c && (!best || c.generation > best.generation) ? c : best), undefined);
}

/**
 * The safekeepers (H:P list) a branch's compute talks to: the members of its
 * timeline (both sets during a joint change); for a branch no compute has
 * written to yet, its parent's, so a new branch lands on the same nodes.
 */
export async function branchSafekeepers(state: LocalClusterState, branchName: string): Promise<string> {
  for (let b: LocalBranch | undefined = findLocalBranch(state, branchName); b; b = b.parent === null ? undefined : findLocalBranch(state, b.parent)) {
    const conf = await timelineConf(state, b.timelineId);
    if (!conf) continue;
    const ids = new Set([...conf.members, ...(conf.newMembers ?? [])]);
    const members = state.safekeepers.filter((s) => ids.has(s.id));
    if (members.length) return members.map((s) => `127.0.0.1:${s.port}`).join(',');
  }
  return state.safekeepers.slice(0, 3).map((s) => `127.0.0.1:${s.port}`).join(',');
}
