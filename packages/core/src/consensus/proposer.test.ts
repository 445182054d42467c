/**
 * Scenario tests of the proposer against real acceptors over a perfect,
 * ordered network (etcd testdata style, as code): each sets up logs, runs
 * to quiescence, and checks the outcome.
 */
import { describe, expect, it } from 'vitest';
import { SimDisk } from '../sim/disk.js';
import { crc32c } from '../redo/crc32c.js';
import { wholeMtrsError } from '../redo/wal-tail.js';
import { appendOverlap, controlOf, newAcceptor, stepAcceptor, type AcceptorState } from './acceptor.js';
import type { AppendRequest, Message } from './messages.js';
import { appendWal, newProposer, stepProposer, tickProposer, type ProposerState, type ProposerStep } from './proposer.js';
import type { Configuration, NodeId, TermHistory } from './types.js';

const T = { tenantId: 'aa', timelineId: 'bb' };

class Net {
  acceptors = new Map<NodeId, { s: AcceptorState; disk: SimDisk }>();
  proposers = new Map<number, ProposerState>();
  queue: { from: number; to: number; m: Message }[] = [];
  down = new Set<number>();
  now = 0;
  /** Every AppendRequest with WAL that was delivered to an acceptor. */
  appends: AppendRequest[] = [];
  appendBytesMax = 4;
  inflightBytesMax = 64;
  /** Who the acceptors take the proposers for: 'proposer' is a compute's tenant token. */
  sender: 'operator' | 'proposer' = 'operator';
  /** Messages delivered to each acceptor. */
  delivered = new Map<NodeId, number>();

  constructor(conf: Configuration, ids: NodeId[]) {
    for (const id of ids) {
      const s = newAcceptor({ nodeId: id, ...T, conf, timelineStartLsn: 100n });
      this.acceptors.set(id, { s, disk: new SimDisk(controlOf(s), 100n) });
    }
  }
  /** Give acceptor `id` a log: bytes of each term of `history` up to `flush`. */
  setLog(id: NodeId, term: bigint, history: TermHistory, flush: bigint): void {
    const a = this.acceptors.get(id)!;
    for (let lsn = 100n; lsn < flush; lsn++) {
      let t = 0n;
      for (const e of history) if (e.lsn <= lsn) t = e.term;
      a.disk.writeWal(lsn, new Uint8Array([Number(t)]));
    }
    a.disk.flushWal();
    a.s = { ...a.s, term, termHistory: history, flushLsn: flush };
  }
  /** Give acceptor `id` the log `bytes` from LSN 100, all of term `term`. */
  setLogBytes(id: NodeId, term: bigint, bytes: Uint8Array): void {
    const a = this.acceptors.get(id)!;
    a.disk.writeWal(100n, bytes);
    a.disk.flushWal();
    a.s = { ...a.s, term, termHistory: [{ term, lsn: 100n }], flushLsn: 100n + BigInt(bytes.length) };
  }
  wal(id: NodeId): number[] {
    return [...this.acceptors.get(id)!.disk.bytes];
  }
  start(pid: number, conf: Configuration, acceptors: NodeId[], unsafe = false): void {
    const step = newProposer(
      {
        proposerId: pid,
        ...T,
        acceptors,
        conf,
        heartbeatMs: 10,
        reconnectMs: 1000,
        appendBytesMax: this.appendBytesMax,
        inflightBytesMax: this.inflightBytesMax,
        unsafe: { commitPreviousTermEntries: unsafe },
      },
      this.now,
    );
    this.apply(pid, step);
  }
  apply(pid: number, step: ProposerStep): void {
    this.proposers.set(pid, step.state);
    for (const s of step.sends) this.queue.push({ from: pid, to: s.to, m: s.message });
  }
  append(pid: number, data: number[]): void {
    const p = this.proposers.get(pid)!;
    this.apply(pid, appendWal(p, p.walEndLsn, new Uint8Array(data), this.now));
  }
  run(maxSteps = 10_000): void {
    for (let i = 0; i < maxSteps; i++) {
      const e = this.queue.shift();
      if (e === undefined) {
        if (i > maxSteps / 2) return;
        this.now += 10;
        for (const [pid, p] of this.proposers) this.apply(pid, tickProposer(p, this.now));
        continue;
      }
      if (this.down.has(e.to) || this.down.has(e.from)) continue;
      const a = this.acceptors.get(e.to);
      if (a !== undefined) {
        if (e.m.type === 'AppendRequest' && e.m.data.length > 0) this.appends.push(e.m);
        const overlap = appendOverlap(a.s, e.m as never);
        this.delivered.set(e.to, (this.delivered.get(e.to) ?? 0) + 1);
        const stored = overlap === null ? {} : { stored: a.disk.readWal(overlap.beginLsn, overlap.endLsn) };
        const r = stepAcceptor(a.s, e.m as never, { ...stored, sender: this.sender });
        let data: Uint8Array | null = null;
        for (const ef of r.effects) {
          if (ef.kind === 'writeWal') a.disk.writeWal(ef.beginLsn, ef.data);
          if (ef.kind === 'flushWal') a.disk.flushWal();
          if (ef.kind === 'truncateWal') a.disk.truncateWal(ef.lsn);
          if (ef.kind === 'persistControl') a.disk.persistControl(ef.control);
          if (ef.kind === 'readWal') data = a.disk.readWal(ef.beginLsn, ef.endLsn);
        }
        a.s = r.state;
        for (const reply of r.replies) {
          const m = reply.type === 'ReadWalResponse' && data !== null ? { ...reply, data } : reply;
          this.queue.push({ from: e.to, to: e.from, m });
        }
        continue;
      }
      const p = this.proposers.get(e.to);
      if (p !== undefined) this.apply(e.to, stepProposer(p, e.from, e.m as never, this.now));
    }
  }
}

const conf3: Configuration = { generation: 1, members: [1, 2, 3] };

describe('proposer: election', () => {
  it('picks term = max seen + 1 and the most advanced voter (last log term, then flush) as donor', () => {
    const net = new Net(conf3, [1, 2, 3]);
    net.setLog(1, 2n, [{ term: 1n, lsn: 100n }], 130n); // longer but older term
    net.setLog(2, 5n, [{ term: 1n, lsn: 100n }, { term: 2n, lsn: 110n }], 115n);
    net.start(100, conf3, [1, 2, 3]);
    net.run();
    const p = net.proposers.get(100)!;
    expect(p).toMatchObject({ status: 'elected', term: 6n, donor: 2, epochStartLsn: 115n });
    expect(p.termHistory).toEqual([{ term: 1n, lsn: 100n }, { term: 2n, lsn: 110n }, { term: 6n, lsn: 115n }]);
  });

  it('truncates a divergent acceptor to the common point and catches it up from the donor', () => {
    const net = new Net(conf3, [1, 2, 3]);
    net.setLog(1, 3n, [{ term: 1n, lsn: 100n }, { term: 3n, lsn: 105n }], 112n);
    net.setLog(2, 3n, [{ term: 1n, lsn: 100n }, { term: 2n, lsn: 104n }], 120n); // divergent from 104
    net.setLog(3, 1n, [{ term: 1n, lsn: 100n }], 102n); // lagging
    net.start(100, conf3, [1, 2, 3]);
    net.run();
    const p = net.proposers.get(100)!;
    expect(p.donor).toBe(1);
    // Everyone holds the donor's log: term 1 bytes to 105, term 3 bytes to 112.
    const want = [...Array(5).fill(1), ...Array(7).fill(3)];
    for (const id of [1, 2, 3]) expect(net.wal(id)).toEqual(want);
    // Reaching the epoch start on a quorum commits all of it.
    expect(p.commitLsn).toBe(112n);
  });

  it('a lagging acceptor that comes back is caught up with the new WAL', () => {
    const net = new Net(conf3, [1, 2, 3]);
    net.down.add(3);
    net.start(100, conf3, [1, 2, 3]);
    net.run();
    net.append(100, [9, 9, 9, 9, 9, 9]);
    net.run();
    expect(net.proposers.get(100)!.commitLsn).toBe(106n);
    net.down.delete(3);
    net.run();
    expect(net.wal(3)).toEqual([9, 9, 9, 9, 9, 9]);
  });
});

/** `n` whole CRC-valid mtrs of 6 to 20 bytes, a function of `seed`. */
function mtrs(n: number, seed: number): Uint8Array {
  const parts: number[] = [];
  for (let i = 0; i < n; i++) {
    const len = 1 + ((seed * 7 + i * 5) % 15);
    const m = [0x30 | len, ...Array.from({ length: len }, (_, j) => (seed + i * 31 + j) & 0xff), 1];
    const b = Uint8Array.from(m);
    const crc = crc32c(b, 0, b.length - 1);
    parts.push(...m, crc >>> 24, (crc >>> 16) & 0xff, (crc >>> 8) & 0xff, crc & 0xff);
  }
  return Uint8Array.from(parts);
}

describe('proposer: appends end at mtr boundaries (acceptors refuse anything else)', () => {
  it('an appended chunk larger than appendBytesMax is cut at the last mtr end that fits', () => {
    const net = new Net(conf3, [1, 2, 3]);
    net.appendBytesMax = 40;
    net.start(100, conf3, [1, 2, 3]);
    net.run();
    const wal = mtrs(60, 1);
    net.append(100, [...wal]);
    net.run();
    expect(net.proposers.get(100)!.commitLsn).toBe(100n + BigInt(wal.length));
    expect(net.appends.length).toBeGreaterThan(wal.length / 40);
    for (const m of net.appends) expect(wholeMtrsError(m.data), `append [${m.beginLsn}, ${m.endLsn})`).toBeUndefined();
    for (const id of [1, 2, 3]) expect(net.wal(id)).toEqual([...wal]);
  });

  it('a lagging acceptor caught up from WAL fetched in windows that start inside mtrs still gets whole mtrs', () => {
    const net = new Net(conf3, [1, 2, 3]);
    net.appendBytesMax = 50;
    net.inflightBytesMax = 64;
    const wal = mtrs(40, 2);
    net.setLogBytes(1, 1n, wal);
    net.setLogBytes(2, 1n, wal);
    net.start(100, conf3, [1, 2, 3]);
    net.run();
    expect(net.wal(3)).toEqual([...wal]);
    expect(net.appends.length).toBeGreaterThan(0);
    for (const m of net.appends) expect(wholeMtrsError(m.data), `append [${m.beginLsn}, ${m.endLsn})`).toBeUndefined();
  });
});

describe('proposer: an acceptor behind its configuration that a greeting cannot upgrade', () => {
  it("is greeted again on the clock, not in a loop, while the others commit (a compute's token cannot change membership)", () => {
    const conf2: Configuration = { generation: 2, members: [1, 2, 3] };
    const net = new Net(conf2, [1, 2, 3]);
    const a3 = net.acceptors.get(3)!;
    a3.s = { ...a3.s, conf: conf3 };
    net.sender = 'proposer';
    net.start(100, conf2, [1, 2, 3]);
    net.run(2000);
    net.append(100, [5, 5, 5]);
    net.run(2000);
    const p = net.proposers.get(100)!;
    expect(p).toMatchObject({ status: 'elected', commitLsn: 103n });
    expect(net.acceptors.get(3)!.s.conf).toEqual(conf3);
    // A few messages per heartbeat (10 ms of simulated time each), not one per round trip.
    expect(net.delivered.get(3)!).toBeLessThan((net.now / 10) * 3 + 10);
  });
});

describe('proposer: fencing', () => {
  it('a proposer out-termed by another stops ("fenced") on the first higher term it hears', () => {
    const net = new Net(conf3, [1, 2, 3]);
    net.start(100, conf3, [1, 2, 3]);
    net.run();
    expect(net.proposers.get(100)!.status).toBe('elected');
    net.start(200, conf3, [1, 2, 3]);
    net.run();
    expect(net.proposers.get(200)!).toMatchObject({ status: 'elected', term: 2n });
    // Its next heartbeat is answered with term 2.
    expect(net.proposers.get(100)!).toMatchObject({ status: 'fenced' });
    expect(net.proposers.get(100)!.fencedReason).toMatch(/term 2 > 1/);
  });

  it('a proposer of an older generation is fenced', () => {
    const net = new Net(conf3, [1, 2, 3]);
    net.start(100, conf3, [1, 2, 3]);
    net.run();
    const newer = { generation: 2, members: [1, 2, 3] };
    for (const id of [1, 2, 3]) {
      const a = net.acceptors.get(id)!;
      a.s = stepAcceptor(a.s, { type: 'MembershipSwitchRequest', ...T, generation: 2, conf: newer }).state;
    }
    net.append(100, [1]);
    net.run();
    expect(net.proposers.get(100)!.status).toBe('fenced');
  });
});

describe('proposer: commit announcement', () => {
  it('acceptors learn a new commit LSN with no further WAL and no heartbeat (an empty append goes to idle peers)', () => {
    const net = new Net(conf3, [1, 2, 3]);
    net.start(100, conf3, [1, 2, 3]);
    net.run(2_000);
    expect(net.proposers.get(100)!.status).toBe('elected');
    net.append(100, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    // Deliver what is in flight and what it causes, with the clock stopped: no tick, no heartbeat.
    for (let i = 0; i < 10_000 && net.queue.length > 0; i++) {
      const before = net.now;
      net.run(1);
      expect(net.now).toBe(before);
    }
    const commit = net.proposers.get(100)!.commitLsn;
    expect(commit).toBe(110n);
    for (const id of [1, 2, 3]) expect(net.acceptors.get(id)!.s.commitLsn, `acceptor ${id}`).toBe(commit);
  });
});

describe('proposer: commit rule', () => {
  // Figure 8: acceptor 1 holds term-2 WAL nobody committed; acceptor 3 holds
  // different term-3 WAL. A term-4 proposer elected by {1, 2} syncs acceptor
  // 2 with term-2 WAL up to 110 but must not call it committed before its
  // own term's start reaches a quorum.
  function figure8(unsafe: boolean): Net {
    const net = new Net(conf3, [1, 2, 3]);
    net.setLog(1, 3n, [{ term: 2n, lsn: 100n }], 110n);
    net.setLog(3, 3n, [{ term: 3n, lsn: 100n }], 105n);
    net.down.add(3);
    net.start(100, conf3, [1, 2, 3], unsafe);
    return net;
  }

  it('counts no previous-term WAL toward commit until the epoch start is on a quorum', () => {
    const net = figure8(false);
    // Acceptor 2 is caught up 4 bytes at a time: step by step, the commit
    // must never land strictly between the timeline start 100 and the epoch start 110.
    let seen: bigint[] = [];
    for (let i = 0; i < 400; i++) {
      net.run(1);
      const p = net.proposers.get(100)!;
      seen.push(p.commitLsn);
    }
    seen = [...new Set(seen)];
    for (const c of seen) expect(c <= 100n || c >= 110n).toBe(true);
    expect(net.proposers.get(100)!.commitLsn).toBe(110n);
  });

  it('with the rule broken, previous-term WAL is "committed" below the epoch start', () => {
    const net = figure8(true);
    const seen = new Set<bigint>();
    for (let i = 0; i < 400; i++) {
      net.run(1);
      seen.add(net.proposers.get(100)!.commitLsn);
    }
    expect([...seen].some((c) => c > 100n && c < 110n)).toBe(true);
  });

  it('in a joint configuration, commit needs a majority of the old AND of the new members', () => {
    const joint: Configuration = { generation: 2, members: [1, 2, 3], newMembers: [1, 4, 5] };
    const net = new Net(joint, [1, 2, 3, 4, 5]);
    net.start(100, joint, [1, 2, 3, 4, 5]);
    net.run();
    expect(net.proposers.get(100)!.status).toBe('elected');
    // Old majority {1,2,3} acks, new set has only 1 of {1,4,5}: no commit.
    net.down.add(4);
    net.down.add(5);
    net.append(100, [1, 2, 3]);
    net.run();
    expect(net.proposers.get(100)!.commitLsn).toBeLessThan(103n);
    net.down.delete(4);
    net.run();
    expect(net.proposers.get(100)!.commitLsn).toBe(103n);
  });
});
