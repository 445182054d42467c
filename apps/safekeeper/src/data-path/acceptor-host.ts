/**
 * Runs the pure acceptor of `@strata/core/consensus` over one timeline's
 * storage. Requests for a timeline are serialized; within one request the
 * WAL writes of all its messages share one fsync, and no reply leaves before
 * everything it depends on is durable (replies go out only after the whole
 * batch's effects are done).
 */
import { assert } from '@strata/core';
import {
  type AcceptorControl,
  type AcceptorInput,
  type AcceptorMessage,
  type AcceptorState,
  controlOf,
  peerRecoveryRange,
  restoreAcceptor,
  type TermHistory,
  stepAcceptor,
} from '@strata/core/consensus';
import type { Timeline } from '../storage/timeline.js';

/** Largest WAL copied from a peer in one `recoverFromPeer` call. */
export const PEER_RECOVERY_CHUNK_BYTES = 16 * 1024 * 1024;

export class AcceptorHost {
  private state: AcceptorState;
  private queue: Promise<unknown> = Promise.resolve();
  /** `Date.now()` of the last proposer request handled (0: none since this host was made). */
  lastProposerMessageAt = 0;

  constructor(
    private readonly nodeId: number,
    private readonly timeline: Timeline,
  ) {
    this.state = restoreAcceptor(controlFromTimeline(nodeId, timeline), timeline.flushLsn);
  }

  get acceptor(): AcceptorState {
    return this.state;
  }

  /** Step every message in order, make its effects durable, and return the replies. */
  handle(messages: readonly AcceptorInput[]): Promise<AcceptorMessage[]> {
    this.lastProposerMessageAt = Date.now();
    return this.serialize(() => this.handleNow(messages));
  }

  /**
   * Peer recovery (core `peerRecoveryRange`): appends the WAL a peer with the
   * same term history holds beyond this acceptor's flush LSN, at most
   * PEER_RECOVERY_CHUNK_BYTES per call. The range is computed against the
   * state at the time the call runs (after any proposer request queued
   * before it); only the flush LSN moves. Returns the bytes appended (0 when
   * the peer's WAL is not ours to take, or no longer ahead).
   */
  recoverFromPeer(peerTermHistory: TermHistory, peerFlushLsn: bigint, fetch: (from: bigint, to: bigint) => Promise<Uint8Array>): Promise<number> {
    return this.serialize(async () => {
      const range = peerRecoveryRange(this.state, { termHistory: peerTermHistory, flushLsn: peerFlushLsn });
      if (!range) return 0;
      const to = range.to - range.from > BigInt(PEER_RECOVERY_CHUNK_BYTES) ? range.from + BigInt(PEER_RECOVERY_CHUNK_BYTES) : range.to;
      const bytes = await fetch(range.from, to);
      if (bytes.length === 0) return 0;
      assert(BigInt(bytes.length) <= to - range.from, `peer recovery fetched ${bytes.length} bytes for ${range.from}..${to}`);
      const flushLsn = await this.timeline.appendWal(range.from, bytes);
      this.state = { ...this.state, flushLsn };
      assert(this.timeline.flushLsn === this.state.flushLsn, `storage flush ${this.timeline.flushLsn} != acceptor flush ${this.state.flushLsn}`);
      return bytes.length;
    });
  }

  private serialize<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async handleNow(messages: readonly AcceptorInput[]): Promise<AcceptorMessage[]> {
    const replies: AcceptorMessage[] = [];
    // WAL written but not yet fsynced: it is flushed before anything that depends on it.
    let pending: { begin: bigint; parts: Uint8Array[]; bytes: number } | null = null;
    const flushPending = async (): Promise<void> => {
      if (!pending) return;
      const data = concat(pending.parts, pending.bytes);
      const begin = pending.begin;
      pending = null;
      await this.timeline.appendWal(begin, data);
    };
    for (const m of messages) {
      const step = stepAcceptor(this.state, m);
      let reads: Map<number, Uint8Array> | null = null;
      for (const e of step.effects) {
        switch (e.kind) {
          case 'writeWal':
            if (pending && pending.begin + BigInt(pending.bytes) === e.beginLsn) {
              pending.parts.push(e.data);
              pending.bytes += e.data.length;
            } else {
              await flushPending();
              pending = { begin: e.beginLsn, parts: [e.data], bytes: e.data.length };
            }
            break;
          case 'flushWal':
            // Deferred to the end of the batch (or to the next effect that needs it).
            break;
          case 'truncateWal':
            await flushPending();
            await this.timeline.truncateWal(e.lsn);
            break;
          case 'persistControl':
            await flushPending();
            await this.timeline.updateConsensus(consensusPatch(e.control));
            break;
          case 'readWal': {
            await flushPending();
            reads ??= new Map();
            reads.set(replies.length + step.replies.findIndex((r) => r.type === 'ReadWalResponse'), await this.timeline.readWal(e.beginLsn, e.endLsn));
            break;
          }
        }
      }
      this.state = step.state;
      for (const r of step.replies) {
        const idx = replies.length;
        const data = reads?.get(idx);
        replies.push(data && r.type === 'ReadWalResponse' ? { ...r, data } : r);
      }
    }
    await flushPending();
    assert(this.timeline.flushLsn === this.state.flushLsn, `storage flush ${this.timeline.flushLsn} != acceptor flush ${this.state.flushLsn}`);
    // Readers may see what a quorum flushed as soon as this node knows of it; the control file catches up on its next write.
    this.timeline.commits.advance(this.state.commitLsn);
    return replies;
  }
}

function concat(parts: Uint8Array[], bytes: number): Uint8Array {
  if (parts.length === 1) return parts[0]!;
  const out = new Uint8Array(bytes);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

function controlFromTimeline(nodeId: number, t: Timeline): AcceptorControl {
  const c = t.control;
  return {
    nodeId,
    tenantId: c.tenantId,
    timelineId: c.timelineId,
    conf: c.conf,
    term: c.term,
    termHistory: c.termHistory,
    timelineStartLsn: c.timelineStartLsn,
    commitLsn: c.commitLsn,
  };
}

function consensusPatch(control: AcceptorControl) {
  const conf = {
    generation: control.conf.generation,
    members: [...control.conf.members],
    ...(control.conf.newMembers ? { newMembers: [...control.conf.newMembers] } : {}),
  };
  return { term: control.term, termHistory: control.termHistory.map((e) => ({ ...e })), conf, commitLsn: control.commitLsn };
}

export { controlOf };
