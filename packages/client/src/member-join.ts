/**
 * The proposer's side of the join rule (core consensus join.ts): a member
 * whose safekeeper refuses the consensus stream for want of the timeline is
 * told to the pure proposer as a `noTimeline` reject (`TIMELINE_LOST`: a
 * `timelineLost` one); the proposer then asks, at most once per reconnect
 * period, that the member join, and this module asks the safekeeper with
 * `POST .../timelines/:id/join`, giving it what the other members hold (the
 * highest configuration, the start LSN, the creation date). The safekeeper
 * decides: it joins fresh, or answers JOIN_REFUSED / TIMELINE_LOST and the
 * member stays degraded (shown by `degradedMembers`).
 */
import type { NodeId, ProposerEvent, Reject } from '@strata/core/consensus';
import { authHeaders } from './http.js';

export interface JoinEndpoint {
  readonly nodeId: NodeId;
  readonly baseUrl: string;
}

/** The reject a closed stream stands for, when its safekeeper refused it for want of the timeline. */
export function absentReject(tenantId: string, timelineId: string, nodeId: NodeId, closeReason: string): Reject | null {
  const reason = /\bTIMELINE_LOST\b/.test(closeReason) ? 'timelineLost' : /\bTIMELINE_NOT_FOUND\b/.test(closeReason) ? 'noTimeline' : null;
  if (reason === null) return null;
  return { type: 'Reject', tenantId, timelineId, generation: 0, nodeId, term: 0n, reason, lsn: 0n };
}

interface PeerTimeline {
  timelineStartLsn: string;
  createdAt: string;
  conf: { generation: number; members: number[]; newMembers?: number[] };
  /** innodb_page_size the members parse appends at (absent from older safekeepers). */
  pageSize?: number;
}

export interface MemberJoinerOptions {
  readonly tenantId: string;
  readonly timelineId: string;
  readonly endpoints: readonly JoinEndpoint[];
  readonly token?: string | undefined;
  readonly timeoutMs?: number;
  /** What happened to each join (for logs). */
  readonly onResult?: (nodeId: NodeId, result: string) => void;
}

export class MemberJoiner {
  private readonly joining = new Set<NodeId>();
  private stopped = false;
  constructor(private readonly opts: MemberJoinerOptions) {}

  onEvent(e: ProposerEvent): void {
    if (e.kind !== 'memberMissing' || this.stopped || this.joining.has(e.nodeId)) return;
    this.joining.add(e.nodeId);
    void this.join(e.nodeId)
      .then((r) => this.opts.onResult?.(e.nodeId, r))
      .catch((err: unknown) => this.opts.onResult?.(e.nodeId, `join failed: ${err instanceof Error ? err.message : String(err)}`))
      .finally(() => this.joining.delete(e.nodeId));
  }

  stop(): void {
    this.stopped = true;
  }

  private base(e: JoinEndpoint): string {
    return `${e.baseUrl}/v1/tenants/${this.opts.tenantId}/timelines/${this.opts.timelineId}`;
  }

  private async join(nodeId: NodeId): Promise<string> {
    const target = this.opts.endpoints.find((e) => e.nodeId === nodeId);
    if (target === undefined) return 'no address for it';
    const timeoutMs = this.opts.timeoutMs ?? 10_000;
    const headers = authHeaders(this.opts.token);
    // What the other members hold: the newest configuration, the earliest creation date.
    const found: PeerTimeline[] = [];
    for (const e of this.opts.endpoints) {
      if (e.nodeId === nodeId) continue;
      const res = await fetch(this.base(e), { headers, signal: AbortSignal.timeout(timeoutMs) }).catch(() => null);
      if (res?.status === 200) found.push((await res.json()) as PeerTimeline);
    }
    if (found.length === 0) return 'no other member answers for the timeline';
    const newest = found.reduce((a, b) => (b.conf.generation > a.conf.generation ? b : a));
    const createdAt = found.reduce((a, b) => (b.createdAt < a ? b.createdAt : a), newest.createdAt);
    const best: PeerTimeline = { ...newest, createdAt };
    const res = await fetch(`${this.base(target)}/join`, {
      method: 'POST',
      headers: { ...headers, 'content-type': 'application/json' },
      body: JSON.stringify({ startLsn: best.timelineStartLsn, conf: best.conf, timelineCreatedAt: best.createdAt, ...(best.pageSize !== undefined ? { pageSize: best.pageSize } : {}) }),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await res.text();
    return res.status === 201 ? 'joined as a fresh acceptor' : res.status === 200 ? 'already holds the timeline' : `refused: HTTP ${res.status} ${text}`;
  }
}
