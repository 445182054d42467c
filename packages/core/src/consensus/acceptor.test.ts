import { describe, expect, it } from 'vitest';
import { appendOverlap, appendRedoError, newAcceptor, stepAcceptor, type AcceptorState, type StepContext } from './acceptor.js';
import type { AcceptorInput, AcceptorMessage } from './messages.js';
import type { Configuration } from './types.js';

const T = { tenantId: 'aa', timelineId: 'bb' };
const conf: Configuration = { generation: 1, members: [1, 2, 3] };
const h = (generation = 1) => ({ ...T, generation });
const fresh = (): AcceptorState => newAcceptor({ nodeId: 1, ...T, conf, timelineStartLsn: 100n });
const bytes = (n: number, v = 7) => new Uint8Array(n).fill(v);

/** Stored WAL of `following`: the byte at LSN `lsn` (so overlaps can be compared). */
const storedByte = (lsn: bigint) => Number(lsn % 251n);
const stored = (from: bigint, n: number) => Uint8Array.from({ length: n }, (_, i) => storedByte(from + BigInt(i)));

function run(s: AcceptorState, ...ms: AcceptorInput[]): { s: AcceptorState; replies: AcceptorMessage[] } {
  const replies: AcceptorMessage[] = [];
  for (const m of ms) {
    const r = stepAcceptor(s, m);
    s = r.state;
    replies.push(...r.replies);
  }
  return { s, replies };
}
function last<T>(xs: readonly T[]): T {
  return xs[xs.length - 1]!;
}
/** An acceptor that followed term `term` from LSN 100 and holds `n` bytes. */
function following(term: bigint, n: number): AcceptorState {
  const s = { ...fresh(), term, termHistory: [{ term, lsn: 100n }] };
  return run(s, { type: 'AppendRequest', ...h(), term, beginLsn: 100n, endLsn: 100n + BigInt(n), commitLsn: 0n, data: stored(100n, n) }).s;
}

describe('acceptor: voting', () => {
  it('votes at most once per term', () => {
    const { replies } = run(fresh(), { type: 'VoteRequest', ...h(), term: 5n }, { type: 'VoteRequest', ...h(), term: 5n });
    expect(replies.map((r) => r.type === 'VoteResponse' && r.voteGiven)).toEqual([true, false]);
  });
  it('refuses a vote for a lower term and answers with its own term', () => {
    const { replies } = run(fresh(), { type: 'VoteRequest', ...h(), term: 5n }, { type: 'VoteRequest', ...h(), term: 4n });
    expect(last(replies)).toMatchObject({ type: 'VoteResponse', voteGiven: false, term: 5n });
  });
  it('persists the vote before answering', () => {
    const r = stepAcceptor(fresh(), { type: 'VoteRequest', ...h(), term: 2n });
    expect(r.effects).toEqual([{ kind: 'persistControl', control: expect.objectContaining({ term: 2n }) }]);
  });
});

describe('acceptor: appends', () => {
  it('rejects an append below its term, answering with its term (fencing)', () => {
    const s = following(3n, 10);
    const { replies } = run(s, { type: 'AppendRequest', ...h(), term: 2n, beginLsn: 110n, endLsn: 111n, commitLsn: 0n, data: bytes(1) });
    expect(last(replies)).toMatchObject({ type: 'AppendResponse', term: 3n, flushLsn: 110n });
  });
  it('refuses WAL before adopting the proposer history (ProposerElected first)', () => {
    const s = { ...fresh(), term: 3n };
    const { replies } = run(s, { type: 'AppendRequest', ...h(), term: 3n, beginLsn: 100n, endLsn: 101n, commitLsn: 0n, data: bytes(1) });
    expect(last(replies)).toMatchObject({ type: 'Reject', reason: 'notElected' });
  });
  it('rejects a gap with its flush LSN, and takes an overlapping retransmission by writing only the tail', () => {
    const s = following(3n, 10);
    const gap = stepAcceptor(s, { type: 'AppendRequest', ...h(), term: 3n, beginLsn: 115n, endLsn: 116n, commitLsn: 0n, data: bytes(1) });
    expect(gap.replies[0]).toMatchObject({ type: 'Reject', reason: 'lsnGap', lsn: 110n });
    expect(gap.effects).toEqual([]);
    const resend = { type: 'AppendRequest' as const, ...h(), term: 3n, beginLsn: 105n, endLsn: 112n, commitLsn: 0n, data: stored(105n, 7) };
    expect(appendOverlap(s, resend)).toEqual({ beginLsn: 105n, endLsn: 110n });
    const overlap = stepAcceptor(s, resend, { stored: stored(105n, 5) });
    expect(overlap.effects[0]).toMatchObject({ kind: 'writeWal', beginLsn: 110n });
    expect(overlap.effects[0]!.kind === 'writeWal' && overlap.effects[0]!.data.length).toBe(2);
    expect(overlap.effects[1]).toEqual({ kind: 'flushWal' });
    expect(overlap.state.flushLsn).toBe(112n);
  });
  it('commitLsn never exceeds flushLsn and never decreases', () => {
    let s = following(3n, 10);
    s = run(s, { type: 'AppendRequest', ...h(), term: 3n, beginLsn: 110n, endLsn: 110n, commitLsn: 500n, data: bytes(0) }).s;
    expect(s.commitLsn).toBe(110n);
    s = run(s, { type: 'AppendRequest', ...h(), term: 3n, beginLsn: 110n, endLsn: 110n, commitLsn: 105n, data: bytes(0) }).s;
    expect(s.commitLsn).toBe(110n);
  });
});

describe('acceptor: ProposerElected', () => {
  it('truncates a divergent log to the highest common point, then adopts the history', () => {
    // Log: term 1 from 100, term 2 from 110, flushed to 120. New proposer (term 4) has term 1 then term 3 from 105.
    const s = { ...following(1n, 20), term: 2n, termHistory: [{ term: 1n, lsn: 100n }, { term: 2n, lsn: 110n }] };
    const history = [{ term: 1n, lsn: 100n }, { term: 3n, lsn: 105n }, { term: 4n, lsn: 130n }];
    const r = stepAcceptor(s, { type: 'ProposerElected', ...h(), term: 4n, startStreamingAt: 105n, termHistory: history });
    expect(r.effects.map((e) => e.kind)).toEqual(['truncateWal', 'persistControl']);
    expect(r.effects[0]).toEqual({ kind: 'truncateWal', lsn: 105n });
    expect(r.state).toMatchObject({ flushLsn: 105n, term: 4n, termHistory: history });
    expect(r.replies[0]).toMatchObject({ type: 'AppendResponse', flushLsn: 105n, term: 4n });
  });
  it('refuses a ProposerElected whose streaming point is stale', () => {
    const s = following(1n, 20);
    const history = [{ term: 1n, lsn: 100n }, { term: 4n, lsn: 130n }];
    const r = stepAcceptor(s, { type: 'ProposerElected', ...h(), term: 4n, startStreamingAt: 115n, termHistory: history });
    expect(r.replies[0]).toMatchObject({ type: 'Reject', reason: 'staleElected' });
    expect(r.effects).toEqual([]);
  });
  it('never truncates committed WAL: such a history is refused (badHistory), nothing changes', () => {
    const s = { ...following(1n, 20), commitLsn: 115n };
    const history = [{ term: 2n, lsn: 100n }, { term: 4n, lsn: 130n }];
    const r = stepAcceptor(s, { type: 'ProposerElected', ...h(), term: 4n, startStreamingAt: 100n, termHistory: history });
    expect(r.replies[0]).toMatchObject({ type: 'Reject', reason: 'badHistory' });
    expect(r.effects).toEqual([]);
    expect(r.state).toBe(s);
  });
  it('refuses histories that contradict themselves or ours, without an assertion (badHistory)', () => {
    const s = following(1n, 20);
    const bad = [
      [],
      [{ term: 3n, lsn: 100n }],
      [{ term: 4n, lsn: 130n }, { term: 2n, lsn: 140n }],
      // Term 1 began at 100 in our log: it cannot begin at 101 in the proposer's.
      [{ term: 1n, lsn: 101n }, { term: 4n, lsn: 130n }],
    ];
    for (const termHistory of bad) {
      const r = stepAcceptor(s, { type: 'ProposerElected', ...h(), term: 4n, startStreamingAt: 100n, termHistory });
      expect(r.replies[0]).toMatchObject({ type: 'Reject', reason: 'badHistory' });
      expect(r.effects).toEqual([]);
    }
  });
  it('a duplicate ProposerElected for the adopted term truncates nothing', () => {
    const s = following(3n, 10);
    const r = stepAcceptor(s, {
      type: 'ProposerElected',
      ...h(),
      term: 3n,
      startStreamingAt: 100n,
      termHistory: [{ term: 3n, lsn: 100n }],
    });
    expect(r.effects).toEqual([]);
    expect(r.state.flushLsn).toBe(110n);
  });
});

describe('acceptor: generations', () => {
  it('refuses messages from a lower generation, and from a higher one it has not seen', () => {
    const s = { ...fresh(), conf: { ...conf, generation: 3 } };
    expect(stepAcceptor(s, { type: 'VoteRequest', ...h(2), term: 9n }).replies[0]).toMatchObject({ reason: 'lowerGeneration', generation: 3 });
    expect(stepAcceptor(s, { type: 'VoteRequest', ...h(4), term: 9n }).replies[0]).toMatchObject({ reason: 'higherGeneration' });
  });
  it('adopts a higher configuration from a greeting, never a lower one', () => {
    const joint = { generation: 2, members: [1, 2, 3], newMembers: [1, 2, 4] };
    const r = stepAcceptor(fresh(), { type: 'Greeting', ...h(2), proposerId: 100, conf: joint });
    expect(r.state.conf).toEqual(joint);
    expect(r.effects[0]).toMatchObject({ kind: 'persistControl' });
    const back = stepAcceptor(r.state, { type: 'MembershipSwitchRequest', ...h(1), conf });
    expect(back.state.conf).toEqual(joint);
  });
  it('refuses to switch into a configuration that excludes it', () => {
    const r = stepAcceptor(fresh(), { type: 'Greeting', ...h(2), proposerId: 100, conf: { generation: 2, members: [2, 3, 4] } });
    expect(r.replies[0]).toMatchObject({ type: 'Reject', reason: 'notMember' });
  });
});

describe('acceptor: hostile input is refused with a typed Reject and changes nothing', () => {
  const refused = (r: ReturnType<typeof stepAcceptor>, s: AcceptorState, reason: string) => {
    expect(r.replies).toEqual([expect.objectContaining({ type: 'Reject', reason })]);
    expect(r.effects).toEqual([]);
    expect(r.state).toBe(s);
  };
  it('a resend must be byte-identical to the stored WAL it overlaps (conflict)', () => {
    const s = following(3n, 10);
    const forged = stored(105n, 8);
    forged[2] = forged[2]! ^ 0xff;
    const m = { type: 'AppendRequest' as const, ...h(), term: 3n, beginLsn: 105n, endLsn: 113n, commitLsn: 113n, data: forged };
    refused(stepAcceptor(s, m, { stored: stored(105n, 5) }), s, 'conflict');
    // A byte-identical overlap that only differs past the stored end is new WAL, not a conflict.
    const fine = stored(105n, 8);
    fine[7] = 0;
    expect(stepAcceptor(s, { ...m, data: fine }, { stored: stored(105n, 5) }).state.flushLsn).toBe(113n);
  });
  it('an overlapping append stepped without the stored bytes is a shell bug (asserts)', () => {
    const s = following(3n, 10);
    expect(() => stepAcceptor(s, { type: 'AppendRequest', ...h(), term: 3n, beginLsn: 105n, endLsn: 112n, commitLsn: 0n, data: stored(105n, 7) })).toThrow(/stored bytes/);
  });
  it('needs no stored bytes for a heartbeat, a fenced append, or one at the end', () => {
    const s = following(3n, 10);
    const at = (beginLsn: bigint, n: number, term = 3n) => ({ type: 'AppendRequest' as const, ...h(), term, beginLsn, endLsn: beginLsn + BigInt(n), commitLsn: 0n, data: bytes(n) });
    expect(appendOverlap(s, at(105n, 0))).toBeNull();
    expect(appendOverlap(s, at(105n, 3, 2n))).toBeNull();
    expect(appendOverlap(s, at(110n, 3))).toBeNull();
  });
  it('appendRedoError: 64 bytes of 0xAB are not redo; a heartbeat is fine', () => {
    const m = { type: 'AppendRequest' as const, ...h(), term: 3n, beginLsn: 110n, endLsn: 174n, commitLsn: 0n, data: bytes(64, 0xab) };
    expect(appendRedoError(m)).toBeDefined();
    expect(appendRedoError({ ...m, endLsn: 110n, data: bytes(0) })).toBeUndefined();
  });
  it('configurations: empty, duplicate, node 0, or generation out of range (badConfiguration)', () => {
    const s = fresh();
    for (const bad of [
      { generation: 2, members: [] },
      { generation: 2, members: [1, 1, 2] },
      { generation: 2, members: [0, 1, 2] },
      { generation: 2, members: [1, 2, 3], newMembers: [] },
      { generation: 2, members: [1, 2, 3], newMembers: [1, 4, 4] },
      { generation: 2 ** 31, members: [1, 2, 3] },
    ]) {
      refused(stepAcceptor(s, { type: 'MembershipSwitchRequest', ...h(1), conf: bad }), s, 'badConfiguration');
      refused(stepAcceptor(s, { type: 'Greeting', ...h(1), proposerId: 7, conf: bad }), s, 'badConfiguration');
    }
  });
  it("a compute's token (sender 'proposer') cannot switch membership or bump the term", () => {
    const s = following(3n, 10);
    const ctx: StepContext = { sender: 'proposer' };
    refused(stepAcceptor(s, { type: 'MembershipSwitchRequest', ...h(1), conf: { generation: 2, members: [1] } }, ctx), s, 'notAuthorized');
    refused(stepAcceptor(s, { type: 'TermBumpRequest', ...h(1), term: 99n }, ctx), s, 'notAuthorized');
    // An operator may.
    expect(stepAcceptor(s, { type: 'TermBumpRequest', ...h(1), term: 99n }).state.term).toBe(99n);
  });
  it("a compute's Greeting never changes the configuration: the answer is ours", () => {
    const s = fresh();
    const forged = { generation: 50, members: [1] };
    const r = stepAcceptor(s, { type: 'Greeting', ...h(50), proposerId: 7, conf: forged }, { sender: 'proposer' });
    expect(r.state).toBe(s);
    expect(r.effects).toEqual([]);
    expect(r.replies[0]).toMatchObject({ type: 'GreetingResponse', conf, generation: 1 });
  });
  it('a term more than TERM_STEP_MAX ahead is refused (badTerm): the term space cannot be used up', () => {
    const s = following(3n, 10);
    refused(stepAcceptor(s, { type: 'VoteRequest', ...h(), term: (1n << 62n) - 1n }), s, 'badTerm');
    refused(stepAcceptor(s, { type: 'ProposerElected', ...h(), term: (1n << 62n) - 1n, startStreamingAt: 110n, termHistory: [{ term: (1n << 62n) - 1n, lsn: 110n }] }), s, 'badTerm');
    expect(stepAcceptor(s, { type: 'VoteRequest', ...h(), term: 3n + (1n << 32n) }).replies[0]).toMatchObject({ voteGiven: true });
  });
});
