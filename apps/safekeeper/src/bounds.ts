/**
 * Bounds on what a remote caller may name: LSNs, terms, configurations.
 * They are checked at the route boundary, before anything is stored or
 * handed to the consensus core, whose assertions are for our own bugs and
 * exit the process (a `u64 out of range` or `configuration without
 * members` from someone else's bytes took a safekeeper down, issue 16).
 *
 * Why 2^62 for LSNs and terms: the wire and the control file hold u64, and
 * every consumer adds to what it reads (a term + 1 per election, an LSN +
 * the length of an append, a start LSN + a segment). A value at or near
 * 2^64 − 1 overflows the first such sum and asserts, so it must never be
 * accepted. 2^62 bytes of redo is 4 EiB — more than any timeline will write
 * in its lifetime — and 2^62 terms is more elections than will ever run, so
 * the bound refuses no real input and leaves three quarters of the u64 range
 * for arithmetic.
 *
 * Why 2^31 for generations: they are u32 on the wire and a membership
 * change adds 2 (joint, then final) to the current one.
 */
import { z } from 'zod';
import { CONFIGURATION_MEMBERS_MAX, GENERATION_LIMIT, NODE_ID_MAX, U64_VALUE_LIMIT } from '@strata/core/consensus';
import { lsnString } from '@strata/core/json';
import type { SafekeeperDeps } from './deps.js';

// The same limits as core's codec and acceptor (consensus/types.ts), so a value refused here is refused there too.
export { GENERATION_LIMIT };
/** Every LSN and term a remote caller names is below this. */
export const REMOTE_U64_LIMIT = U64_VALUE_LIMIT;
/** Members per configuration set: the codec's and the control file's limit. */
export const MEMBERS_MAX = CONFIGURATION_MEMBERS_MAX;

const boundMessage = `must be below 2^62 (${REMOTE_U64_LIMIT}): see apps/safekeeper/src/bounds.ts`;

/** A decimal LSN in JSON below REMOTE_U64_LIMIT. */
export const boundedLsnString = lsnString.refine((v) => v < REMOTE_U64_LIMIT, boundMessage);

/** A term or LSN already decoded from a binary frame. */
export const boundedU64 = z.bigint().nonnegative().lt(REMOTE_U64_LIMIT, boundMessage);

const nodeId = z.number().int().min(1, 'node IDs start at 1').max(NODE_ID_MAX, 'node IDs are u32');
const memberList = z
  .array(nodeId)
  .min(1, 'a configuration needs at least one member')
  .max(MEMBERS_MAX, `at most ${MEMBERS_MAX} members`)
  .refine((ids) => new Set(ids).size === ids.length, 'a node is listed twice');

/** A configuration from a remote caller: non-empty, distinct, node IDs in range, generation bounded. */
export const remoteConfiguration = z
  .object({
    generation: z.number().int().min(0).lt(GENERATION_LIMIT, `generation must be below 2^31 (${GENERATION_LIMIT})`),
    members: memberList,
    newMembers: memberList.optional(),
  })
  .strict();

export type RemoteConfiguration = z.output<typeof remoteConfiguration>;

/**
 * The nodes this safekeeper knows: itself and its `--peers`. Undefined when
 * it was started without peers (tests, a lone node): it then cannot tell a
 * known node from an unknown one and checks only the shape.
 */
export function knownNodes(deps: Pick<SafekeeperDeps, 'nodeId' | 'peers'>): ReadonlySet<number> | undefined {
  if (deps.peers === undefined || deps.peers.size === 0) return undefined;
  return new Set([deps.nodeId, ...deps.peers.keys()]);
}

/** The members of `conf` (both sets of a joint one) that are not in `known`, ascending. */
export function unknownMembers(
  conf: { readonly members: readonly number[]; readonly newMembers?: readonly number[] | undefined },
  known: ReadonlySet<number> | undefined,
): number[] {
  if (known === undefined) return [];
  const all = new Set([...conf.members, ...(conf.newMembers ?? [])]);
  return [...all].filter((id) => !known.has(id)).sort((a, b) => a - b);
}
