/**
 * A membership change of one timeline of a local cluster: the registered
 * safekeepers (ids and addresses from cluster.json) and the admin token given
 * to the one MembershipDriver. Progress comes as typed events; `describe`
 * words them the same for the CLI's stderr and the console's operation log.
 */
import { changeMembership, type MembershipChangeResult, type MembershipProgress } from '../membership-driver.js';
import { LocalClusterError } from './errors.js';
import { localAdminToken, requireLocalCluster } from './state.js';

export function describeMembershipProgress(p: MembershipProgress): string {
  switch (p.kind) {
    case 'start':
      return `change: generation ${p.from.generation} [${p.from.members.join(',')}] → joint ${p.joint.generation} → final ${p.final.generation} [${p.final.members.join(',')}]`;
    case 'phase':
      return `phase: ${p.phase}`;
    case 'pulling':
      return `pulling the timeline into ${p.nodeId} from ${p.from}`;
    case 'pulled':
      return `pulled the timeline into ${p.nodeId} from ${p.from}`;
    case 'pullFailed':
      return `pull into ${p.nodeId} from ${p.from} failed (will retry): ${p.error}`;
    case 'removedNotified':
      return `removed member ${p.nodeId} ${p.ok ? 'switched to the final configuration' : 'did not answer (it is no longer counted anyway)'}`;
  }
}

export interface LocalMembershipRequest {
  readonly timelineId: string;
  readonly members: readonly number[];
  readonly timeoutMs?: number | undefined;
  readonly onProgress?: ((p: MembershipProgress) => void) | undefined;
}

export function changeLocalMembership(home: string, req: LocalMembershipRequest): Promise<MembershipChangeResult> {
  const state = requireLocalCluster(home);
  const known = new Set(state.safekeepers.map((s) => s.id));
  const unknown = req.members.filter((m) => !known.has(m));
  if (unknown.length) throw new LocalClusterError('invalid', `safekeeper ${unknown.join(', ')} is not in the cluster registry`);
  if (!state.branches.some((b) => b.timelineId === req.timelineId)) throw new LocalClusterError('notFound', `timeline ${req.timelineId} is no branch of the local cluster`);
  return changeMembership({
    tenantId: state.tenantId,
    timelineId: req.timelineId,
    safekeepers: state.safekeepers.map((s) => ({ nodeId: s.id, baseUrl: s.url })),
    members: req.members,
    token: localAdminToken(state),
    ...(req.timeoutMs !== undefined ? { timeoutMs: req.timeoutMs } : {}),
    ...(req.onProgress ? { onProgress: req.onProgress } : {}),
  });
}
