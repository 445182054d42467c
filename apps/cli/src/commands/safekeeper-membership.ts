/**
 * `strata safekeeper membership`: change the members of a timeline's
 * safekeeper set (joint configuration, pull into new members, final
 * configuration; see MembershipDriver in @strata/client).
 */
import { changeMembership, type MembershipChangeResult } from '@strata/client';
import { describeMembershipProgress } from '@strata/client/local';
import { parseHostPorts, resolveSafekeepers } from './safekeeper-endpoints.js';
import { StrataError } from '@strata/core';

export interface MembershipArgs {
  /** Addresses of the current and the new members. */
  readonly safekeepers: string;
  readonly tenantId: string;
  readonly timelineId: string;
  /** Comma-separated node ids of the desired members. */
  readonly members: string;
  readonly token?: string;
  readonly timeoutMs?: number;
  readonly log?: (line: string) => void;
}

export class MembershipArgsError extends StrataError {
  readonly code = 'MEMBERSHIP_ARGS' as const;
  override readonly name = 'MembershipArgsError';
}

export function parseMembers(list: string): number[] {
  const ids = list.split(',').map((s) => s.trim()).filter(Boolean);
  if (ids.length === 0) throw new MembershipArgsError('--members needs at least one node id');
  const out = ids.map((s) => {
    if (!/^[1-9][0-9]{0,9}$/.test(s)) throw new MembershipArgsError(`--members: "${s}" is not a node id`);
    return Number(s);
  });
  if (new Set(out).size !== out.length) throw new MembershipArgsError('--members lists a node twice');
  return out;
}

export async function safekeeperMembership(args: MembershipArgs): Promise<MembershipChangeResult> {
  const members = parseMembers(args.members);
  const urls = parseHostPorts(args.safekeepers, '--safekeepers');
  const { endpoints, unreachable } = await resolveSafekeepers(urls, args.token);
  if (unreachable.length > 0) args.log?.(`unreachable: ${unreachable.join(', ')}`);
  return changeMembership({
    tenantId: args.tenantId,
    timelineId: args.timelineId,
    safekeepers: endpoints,
    members,
    ...(args.token ? { token: args.token } : {}),
    ...(args.timeoutMs !== undefined ? { timeoutMs: args.timeoutMs } : {}),
    onProgress: (p) => args.log?.(describeMembershipProgress(p)),
  });
}
