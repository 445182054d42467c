/**
 * The join rule (join.ts) and the proposer's side of it: a member whose
 * safekeeper answers without the timeline is asked to join; one that lost
 * it is reported as degraded and never counted.
 */
import { describe, expect, it } from 'vitest';
import { decideJoin, type JoinFacts } from './join.js';
import type { Reject } from './messages.js';
import { degradedMembers, newProposer, stepProposer, tickProposer, type ProposerState } from './proposer.js';
import type { Configuration } from './types.js';

const conf: Configuration = { generation: 1, members: [1, 2, 3] };
const facts: JoinFacts = { nodeId: 3, conf, heldBefore: false, diskInitializedAtMs: 1_000, timelineCreatedAtMs: 2_000 };

describe('decideJoin', () => {
  it('an acceptor that never held the timeline joins fresh (it never voted)', () => {
    expect(decideJoin(facts)).toEqual({ kind: 'fresh' });
  });
  it('one whose ledger says it held the timeline lost it: refused', () => {
    expect(decideJoin({ ...facts, heldBefore: true })).toEqual({ kind: 'refuse', reason: 'lost' });
  });
  it('a data directory younger than the timeline cannot prove it never held it (a replaced disk): refused', () => {
    expect(decideJoin({ ...facts, diskInitializedAtMs: 2_000 })).toEqual({ kind: 'refuse', reason: 'diskNewer' });
    expect(decideJoin({ ...facts, diskInitializedAtMs: 5_000 })).toEqual({ kind: 'refuse', reason: 'diskNewer' });
  });
  it('a node outside the configuration is added by a membership change, not by a join', () => {
    expect(decideJoin({ ...facts, nodeId: 4 })).toEqual({ kind: 'refuse', reason: 'notMember' });
    expect(decideJoin({ ...facts, nodeId: 4, conf: { generation: 2, members: [1, 2, 3], newMembers: [1, 2, 4] } })).toEqual({ kind: 'fresh' });
  });
});

const T = { tenantId: 'aa', timelineId: 'bb' };
function absent(nodeId: number, reason: 'noTimeline' | 'timelineLost'): Reject {
  return { type: 'Reject', ...T, generation: 0, nodeId, term: 0n, reason, lsn: 0n };
}
function proposer(): ProposerState {
  return newProposer(
    { proposerId: 100, ...T, acceptors: [1, 2, 3], conf, heartbeatMs: 10, reconnectMs: 100, appendBytesMax: 8, inflightBytesMax: 64 },
    0,
  ).state;
}

describe('proposer: members without the timeline', () => {
  it('asks its shell to bring a missing member in, at most once per reconnect period', () => {
    let s = proposer();
    const a = stepProposer(s, 3, absent(3, 'noTimeline'), 10);
    expect(a.events).toEqual([{ kind: 'memberMissing', nodeId: 3 }]);
    s = a.state;
    expect(stepProposer(s, 3, absent(3, 'noTimeline'), 50).events).toEqual([]);
    expect(stepProposer(s, 3, absent(3, 'noTimeline'), 120).events).toEqual([{ kind: 'memberMissing', nodeId: 3 }]);
    expect(degradedMembers(s)).toEqual([{ nodeId: 3, presence: 'missing' }]);
    // A shell's reject is not an acceptor's term: it fences nothing.
    expect(s.status).toBe('greeting');
  });

  it('reports a member that lost the timeline once, keeps it degraded across reconnects, and clears it when it answers', () => {
    let s = proposer();
    const a = stepProposer(s, 2, absent(2, 'timelineLost'), 10);
    expect(a.events).toEqual([{ kind: 'memberLost', nodeId: 2 }]);
    s = a.state;
    expect(stepProposer(s, 2, absent(2, 'timelineLost'), 20).events).toEqual([]);
    s = tickProposer(s, 500).state;
    expect(degradedMembers(s)).toEqual([{ nodeId: 2, presence: 'lost' }]);
    const back = stepProposer(s, 2, { type: 'GreetingResponse', ...T, generation: 1, nodeId: 2, conf, term: 0n }, 510);
    expect(back.events).toContainEqual({ kind: 'memberPresent', nodeId: 2 });
    expect(degradedMembers(back.state)).toEqual([]);
  });

  it('a missing member counts for no quorum: two greetings start the vote, the third only a join', () => {
    let s = proposer();
    s = stepProposer(s, 3, absent(3, 'noTimeline'), 1).state;
    s = stepProposer(s, 1, { type: 'GreetingResponse', ...T, generation: 1, nodeId: 1, conf, term: 4n }, 2).state;
    expect(s.status).toBe('greeting');
    s = stepProposer(s, 2, { type: 'GreetingResponse', ...T, generation: 1, nodeId: 2, conf, term: 0n }, 3).state;
    expect(s).toMatchObject({ status: 'voting', term: 5n });
  });
});
