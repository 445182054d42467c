/**
 * Quorums of a (possibly joint) configuration. In the joint phase a decision
 * needs a majority of the old members AND a majority of the new ones, so any
 * quorum of the joint configuration intersects every quorum of either
 * configuration it bridges (neon docs/rfcs/035).
 */
import { assert } from '../assert.js';
import { CONFIGURATION_MEMBERS_MAX, GENERATION_LIMIT, NODE_ID_MAX, type Configuration, type Lsn, type NodeId } from './types.js';

/** Every node of the configuration, old and new, once each. */
export function allMembers(conf: Configuration): NodeId[] {
  const out = [...conf.members];
  for (const id of conf.newMembers ?? []) if (!out.includes(id)) out.push(id);
  return out;
}

export function isMember(conf: Configuration, id: NodeId): boolean {
  return conf.members.includes(id) || (conf.newMembers?.includes(id) ?? false);
}

export function isJoint(conf: Configuration): boolean {
  return conf.newMembers !== undefined;
}

function majorityOf(set: readonly NodeId[], has: (id: NodeId) => boolean): boolean {
  assert(set.length > 0, 'empty member set');
  let n = 0;
  for (const id of set) if (has(id)) n++;
  return n * 2 > set.length;
}

/** Does the set of nodes for which `has` holds form a quorum of `conf`? */
export function isQuorum(conf: Configuration, has: (id: NodeId) => boolean): boolean {
  if (!majorityOf(conf.members, has)) return false;
  return conf.newMembers === undefined || majorityOf(conf.newMembers, has);
}

/** The highest value that a majority of `set` has reached (null if no majority reports). */
function majorityValue(set: readonly NodeId[], valueOf: (id: NodeId) => Lsn | undefined): Lsn | null {
  assert(set.length > 0, 'empty member set');
  const values: Lsn[] = [];
  for (const id of set) {
    const v = valueOf(id);
    if (v !== undefined) values.push(v);
  }
  const need = Math.floor(set.length / 2) + 1;
  if (values.length < need) return null;
  values.sort((a, b) => (a > b ? -1 : a < b ? 1 : 0));
  return values[need - 1]!;
}

/**
 * The highest LSN that a quorum of `conf` has reached, or null. `valueOf`
 * returns undefined for nodes that do not count (silent, or not in the
 * proposer's term).
 */
export function quorumLsn(conf: Configuration, valueOf: (id: NodeId) => Lsn | undefined): Lsn | null {
  const old = majorityValue(conf.members, valueOf);
  if (old === null || conf.newMembers === undefined) return old;
  const neu = majorityValue(conf.newMembers, valueOf);
  if (neu === null) return null;
  return old < neu ? old : neu;
}

/** Why a member list is unusable (undefined if it is fine): empty, too long, a node twice, an ID out of range. */
function memberListError(what: string, ids: readonly NodeId[]): string | undefined {
  if (ids.length === 0) return `${what}: no members`;
  if (ids.length > CONFIGURATION_MEMBERS_MAX) return `${what}: ${ids.length} members (at most ${CONFIGURATION_MEMBERS_MAX})`;
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i]!;
    if (!Number.isInteger(id) || id < 1 || id > NODE_ID_MAX) return `${what}: node ID ${id} out of range`;
    if (ids.indexOf(id) !== i) return `${what}: node ${id} listed twice`;
  }
  return undefined;
}

/**
 * Why `conf` is not a configuration an acceptor could work in (undefined if
 * it is). Remote input is checked with this and refused with a typed answer;
 * `assertValidConfiguration` is for configurations already accepted.
 */
export function configurationError(conf: Configuration): string | undefined {
  if (!Number.isInteger(conf.generation) || conf.generation < 0 || conf.generation >= GENERATION_LIMIT) {
    return `generation ${conf.generation} out of range`;
  }
  return memberListError('members', conf.members) ?? (conf.newMembers === undefined ? undefined : memberListError('newMembers', conf.newMembers));
}

export function assertValidConfiguration(conf: Configuration): void {
  const error = configurationError(conf);
  assert(error === undefined, `invalid configuration: ${error}`);
}
