/**
 * Creating a timeline on this safekeeper under the join rule (core
 * consensus join.ts): a plain create and a join both record the timeline in
 * the ledger before it exists, and both refuse a timeline the ledger says
 * was held here and is gone (TIMELINE_LOST). A join, asked by a proposer for
 * a member that missed the creation, also needs the data directory to be
 * older than the timeline.
 */
import { z } from 'zod';
import { decideJoin } from '@strata/core/consensus';
import type { SafekeeperDeps } from '../deps.js';
import { boundedLsnString, knownNodes, remoteConfiguration, unknownMembers } from '../bounds.js';
import { JoinRefused, TimelineLost, UnknownMember } from '../errors.js';
import type { NewTimelineParams } from '../storage/timelines.js';
import type { Timeline } from '../storage/timeline.js';
import { innodbPageSize } from '../storage/control-file.js';
import { holds } from './ledger.js';

export const joinTimelineBody = z
  .object({
    startLsn: boundedLsnString,
    /** The configuration the timeline's other members hold (the proposer's). */
    conf: remoteConfiguration,
    /** When the timeline was created, as its other members recorded it. */
    timelineCreatedAt: z.iso.datetime(),
    /** innodb_page_size the other members parse appends at (absent: MariaDB's default). */
    pageSize: innodbPageSize.optional(),
  })
  .strict();

/** Throws TimelineLost for a timeline this node held and no longer has. */
export function refuseLost(deps: SafekeeperDeps, tenantId: string, timelineId: string): void {
  if (deps.ledger?.has(tenantId, timelineId) === true && !holds(deps.timelines, tenantId, timelineId)) {
    throw new TimelineLost(tenantId, timelineId);
  }
}

/** `timelines.create` with the ledger entry made durable first (and dropped if nothing was created). */
export async function createHeld(deps: SafekeeperDeps, params: NewTimelineParams): Promise<{ timeline: Timeline; created: boolean }> {
  refuseLost(deps, params.tenantId, params.timelineId);
  refuseUnknownMembers(deps, params.conf);
  const ledger = deps.ledger;
  const had = ledger?.has(params.tenantId, params.timelineId) ?? true;
  await ledger?.record(params.tenantId, params.timelineId);
  try {
    return await deps.timelines.create(params);
  } catch (e) {
    // Nothing was put in place, so nothing could have voted: the entry may go.
    if (!had && !holds(deps.timelines, params.tenantId, params.timelineId)) await ledger?.forget(params.tenantId, params.timelineId);
    throw e;
  }
}

/**
 * Throws UnknownMember when a new timeline's configuration names a node that
 * is neither this safekeeper nor one of its `--peers` (checked only when it
 * has peers: without them it cannot tell). Before anything is recorded, so a
 * refused create leaves no trace.
 */
export function refuseUnknownMembers(deps: SafekeeperDeps, conf: NewTimelineParams['conf']): void {
  const known = knownNodes(deps);
  const unknown = unknownMembers(conf, known);
  if (known !== undefined && unknown.length > 0) throw new UnknownMember(unknown, [...known].sort((a, b) => a - b));
}

export async function joinTimeline(
  deps: SafekeeperDeps,
  tenantId: string,
  timelineId: string,
  body: z.output<typeof joinTimelineBody>,
): Promise<{ timeline: Timeline; created: boolean }> {
  if (holds(deps.timelines, tenantId, timelineId)) return { timeline: deps.timelines.get(tenantId, timelineId), created: false };
  refuseLost(deps, tenantId, timelineId);
  if (deps.ledger === undefined) throw new JoinRefused(tenantId, timelineId, 'this safekeeper keeps no ledger');
  const d = decideJoin({
    nodeId: deps.nodeId,
    conf: body.conf,
    heldBefore: deps.ledger.has(tenantId, timelineId),
    diskInitializedAtMs: deps.ledger.initializedAtMs,
    timelineCreatedAtMs: Date.parse(body.timelineCreatedAt),
  });
  if (d.kind === 'refuse') {
    const why = d.reason === 'diskNewer' ? 'its data directory is younger than the timeline (a replaced disk may have held it)' : d.reason;
    throw new JoinRefused(tenantId, timelineId, why);
  }
  return createHeld(deps, { tenantId, timelineId, startLsn: body.startLsn, conf: body.conf, ...(body.pageSize !== undefined ? { pageSize: body.pageSize } : {}) });
}
