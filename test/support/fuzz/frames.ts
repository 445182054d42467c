/**
 * Valid encodings the fuzzer starts from, each with the offsets of its
 * fields (so a mutation can write an edge value into a term, a length or a
 * count): consensus frames (core's consensus codec, plain and zstd-wrapped),
 * GetPage batches and stream frames, aux sets, and WAL stream frames.
 */
import { encodeAuxSet } from '@strata/core';
import { type Configuration, encodeCompressedFrame, encodeMessage, type Message, type TermHistory } from '@strata/core/consensus';
import { encodeGetPageRequests, encodeRequestFrame } from '@strata/core/getpage';
import { encodeEnd, encodeError, encodeHello, encodeKeepalive, encodeWal } from '@strata/core/wal-stream';
import { zstdCompress } from '@strata/zstd';
import { crc32c } from '@strata/core/redo';
import { mtrs } from '../mtrs.js';
import { type Field, type Prng, U64_EDGES, u64Near } from './mutate.js';

/** What a consensus template is built from: the live state of the timeline it names. */
export interface ConsensusState {
  readonly tenantId: string;
  readonly timelineId: string;
  readonly term: bigint;
  readonly flushLsn: bigint;
  readonly commitLsn: bigint;
  readonly conf: Configuration;
  readonly termHistory: TermHistory;
}

export interface Encoded {
  readonly bytes: Uint8Array;
  readonly fields: readonly Field[];
  readonly what: string;
}

// Offsets in a consensus frame whose ids are 32 characters (every id here): length, tag, the ids' lengths, generation.
const HEAD_FIELDS: readonly Field[] = [
  { off: 0, size: 4, name: 'length prefix' },
  { off: 4, size: 1, name: 'tag' },
  { off: 5, size: 1, name: 'tenant id length' },
  { off: 38, size: 1, name: 'timeline id length' },
  { off: 71, size: 4, name: 'generation' },
];
const BODY = 75;
const U64_MAX = (1n << 64n) - 1n;
const clampU64 = (v: bigint) => (v > U64_MAX ? U64_MAX : v);
/** The next generation, within u32 (the live one may be at the edge after a fuzzed switch). */
const nextGen = (g: number) => Math.min(g + 1, 0xffff_ffff);

function confFields(at: number, conf: Configuration): Field[] {
  const f: Field[] = [
    { off: at, size: 4, name: 'conf.generation' },
    { off: at + 4, size: 2, name: 'conf.members count' },
  ];
  conf.members.forEach((_, i) => f.push({ off: at + 6 + 4 * i, size: 4, name: `conf.members[${i}]` }));
  f.push({ off: at + 6 + 4 * conf.members.length, size: 1, name: 'conf.hasNewMembers' });
  return f;
}

function historyFields(at: number, h: TermHistory): Field[] {
  const f: Field[] = [{ off: at, size: 4, name: 'history count' }];
  h.forEach((_, i) => f.push({ off: at + 4 + 16 * i, size: 8, name: `history[${i}].term` }, { off: at + 12 + 16 * i, size: 8, name: `history[${i}].lsn` }));
  return f;
}

/**
 * A valid consensus request about `s`, built from its live state (so that a
 * mutation lands deep in the acceptor, not at the first check): one of the
 * seven acceptor inputs, with terms and LSNs near the live ones or at edges.
 */
export function consensusRequest(rng: Prng, s: ConsensusState): Encoded {
  const h = { tenantId: s.tenantId, timelineId: s.timelineId, generation: rng.chance(0.9) ? s.conf.generation : rng.pick([0, nextGen(s.conf.generation), 0xffff_ffff]) };
  const term = rng.chance(0.7) ? clampU64(s.term + BigInt(rng.int(0, 2))) : u64Near(rng, s.term);
  const history: TermHistory = rng.chance(0.8) ? [...s.termHistory, { term, lsn: s.flushLsn }] : [{ term: rng.pick(U64_EDGES), lsn: rng.pick(U64_EDGES) }];
  let m: Message;
  let fields: Field[];
  switch (rng.int(0, 6)) {
    case 0: {
      const conf = rng.chance(0.8) ? s.conf : { generation: nextGen(s.conf.generation), members: rng.chance(0.5) ? [] : [1, 1, 2] };
      m = { ...h, type: 'Greeting', proposerId: rng.pick([1, 7, 0, 0xffff_ffff]), conf: rng.chance(0.3) ? null : conf };
      fields = [{ off: BODY, size: 4, name: 'proposerId' }, { off: BODY + 4, size: 1, name: 'hasConf' }, ...(m.conf ? confFields(BODY + 5, m.conf) : [])];
      break;
    }
    case 1:
      m = { ...h, type: 'VoteRequest', term };
      fields = [{ off: BODY, size: 8, name: 'term' }];
      break;
    case 2:
      m = { ...h, type: 'ProposerElected', term, startStreamingAt: rng.chance(0.7) ? s.flushLsn : u64Near(rng, s.flushLsn), termHistory: history };
      fields = [{ off: BODY, size: 8, name: 'term' }, { off: BODY + 8, size: 8, name: 'startStreamingAt' }, ...historyFields(BODY + 16, history)];
      break;
    case 3: {
      const data = rng.chance(0.8) ? mtrs(rng.int(11, 400), rng.int(0, 1000)) : new Uint8Array(0);
      const begin = rng.chance(0.8) ? s.flushLsn : u64Near(rng, s.flushLsn);
      const end = begin + BigInt(data.length);
      // The encoder asserts a u64 end: an edge begin is written in by the field mutation instead.
      m = { ...h, type: 'AppendRequest', term, beginLsn: begin, endLsn: end > U64_MAX ? begin : end, commitLsn: rng.chance(0.7) ? s.commitLsn : u64Near(rng, s.commitLsn), data: end > U64_MAX ? new Uint8Array(0) : data };
      fields = [
        { off: BODY, size: 8, name: 'term' },
        { off: BODY + 8, size: 8, name: 'beginLsn' },
        { off: BODY + 16, size: 8, name: 'endLsn' },
        { off: BODY + 24, size: 8, name: 'commitLsn' },
        { off: BODY + 32, size: 4, name: 'data length' },
      ];
      break;
    }
    case 4: {
      const begin = u64Near(rng, s.flushLsn);
      m = { ...h, type: 'ReadWalRequest', term, beginLsn: begin, endLsn: rng.chance(0.5) ? s.flushLsn : u64Near(rng, begin) };
      fields = [{ off: BODY, size: 8, name: 'term' }, { off: BODY + 8, size: 8, name: 'beginLsn' }, { off: BODY + 16, size: 8, name: 'endLsn' }];
      break;
    }
    case 5: {
      const conf: Configuration = rng.pick<Configuration>([
        { generation: nextGen(s.conf.generation), members: [...s.conf.members] },
        { generation: nextGen(s.conf.generation), members: [] },
        { generation: nextGen(s.conf.generation), members: [1, 1] },
        { generation: nextGen(s.conf.generation), members: [2, 3] },
        { generation: s.conf.generation, members: [...s.conf.members], newMembers: [1, 2] },
        { generation: 0xffff_ffff, members: [...s.conf.members] },
        { generation: nextGen(s.conf.generation), members: Array.from({ length: 64 }, (_, i) => i + 1) },
      ]);
      m = { ...h, type: 'MembershipSwitchRequest', conf };
      fields = confFields(BODY, conf);
      break;
    }
    default:
      m = { ...h, type: 'TermBumpRequest', term: rng.chance(0.5) ? term : rng.pick(U64_EDGES) };
      fields = [{ off: BODY, size: 8, name: 'term' }];
  }
  return { bytes: encodeMessage(m), fields: [...HEAD_FIELDS, ...fields], what: m.type };
}

/**
 * Changes record bytes of the mtrs `mtrs()` made (11 bytes each: a 6-byte
 * WRITE record, the end byte, the CRC-32C of the record) and computes each
 * CRC again: redo a checksum does not refuse — another type, space, page,
 * offset or length (which moves the end byte, so framing may fail later).
 */
function corruptRecords(rng: Prng, data: Uint8Array): void {
  const n = Math.floor(data.length / 11);
  for (let k = rng.int(1, 3); k > 0; k--) {
    const at = 11 * rng.int(0, n - 1);
    const i = rng.int(0, 5);
    data[at + i] = rng.chance(0.5) ? rng.pick([0x00, 0x01, 0x02, 0x10, 0x20, 0x3f, 0x40, 0x50, 0x7f, 0x80, 0xb5, 0xf0, 0xff]) : rng.nextU32() & 0xff;
    new DataView(data.buffer, data.byteOffset).setUint32(at + 7, crc32c(data, at, at + 6));
  }
}

/** A consensus frame wrapped in a zstd frame (the proposer's compression), whose inner fields cannot be reached by offset. */
export function compressed(frame: Encoded): Encoded {
  const bytes = encodeCompressedFrame(frame.bytes, (raw) => zstdCompress(raw));
  if (bytes === frame.bytes) return frame;
  return { bytes, fields: [{ off: 0, size: 4, name: 'length prefix' }, { off: 5, size: 4, name: 'decompressed size' }], what: `zstd(${frame.what})` };
}

/** A valid GetPage batch (HTTP body): pages of the seeded tablespace and others, at LSNs around `lsn`. */
export function getpageBatch(rng: Prng, space: number, lsn: bigint): Encoded {
  const n = rng.chance(0.8) ? rng.int(1, 4) : rng.int(5, 64);
  const reqs = Array.from({ length: n }, () => ({
    spaceId: rng.chance(0.6) ? space : rng.chance(0.8) ? rng.int(1, 5) : rng.pick([0, 0xffff_ffff]),
    pageNo: rng.chance(0.7) ? rng.int(0, 5) : rng.int(100, 119),
    lsn: rng.chance(0.7) ? lsn : u64Near(rng, lsn),
  }));
  const fields: Field[] = [];
  reqs.forEach((_, i) => fields.push({ off: 16 * i, size: 4, name: `[${i}].spaceId` }, { off: 16 * i + 4, size: 4, name: `[${i}].pageNo` }, { off: 16 * i + 8, size: 8, name: `[${i}].lsn` }));
  return { bytes: encodeGetPageRequests(reqs), fields, what: `GetPage × ${n}` };
}

/** A valid GetPage stream request frame around a batch. waitMs stays small: a valid wait is a legitimate long wait. */
export function getpageFrame(rng: Prng, space: number, lsn: bigint): Encoded {
  const batch = getpageBatch(rng, space, lsn);
  const n = batch.bytes.length / 16;
  const reqs = Array.from({ length: n }, (_, i) => {
    const v = new DataView(batch.bytes.buffer, 16 * i, 16);
    return { spaceId: v.getUint32(0), pageNo: v.getUint32(4), lsn: v.getBigUint64(8) };
  });
  const bytes = encodeRequestFrame(rng.nextU32(), rng.pick([0, 0, 1, 10]), reqs);
  return {
    bytes,
    fields: [{ off: 0, size: 4, name: 'length prefix' }, { off: 4, size: 4, name: 'tag' }, ...batch.fields.map((f) => ({ ...f, off: f.off + 12 }))],
    what: `GetPage frame × ${n}`,
  };
}

/** A valid aux set: files a compute stores (their paths are aux paths: .frm, db.opt, Aria tables). */
export function auxSet(rng: Prng): Encoded {
  const names = ['db/t.frm', 'db/db.opt', 'mysql/user.MAD', 'mysql/user.MAI', 'db/t2.frm', 'aria_log_control'];
  const files = Array.from({ length: rng.int(0, 3) }, (_, i) => ({ path: names[(i + rng.int(0, 5)) % names.length]!, data: new Uint8Array(rng.int(0, 64)).fill(i + 1) }));
  const unique = files.filter((f, i) => files.findIndex((g) => g.path === f.path) === i);
  const bytes = encodeAuxSet(unique);
  const fields: Field[] = [{ off: 4, size: 4, name: 'file count' }];
  if (unique.length > 0) fields.push({ off: 8, size: 2, name: 'path length' }, { off: 10 + unique[0]!.path.length, size: 4, name: 'data length' });
  return { bytes, fields, what: `aux set × ${unique.length}` };
}

/** A valid WAL stream frame (server → reader): sent where it does not belong, to test protocol confusion. */
export function walStreamFrame(rng: Prng, lsn: bigint): Encoded {
  const f = rng.pick([
    () => encodeHello({ startLsn: lsn, commitLsn: lsn, flushLsn: lsn, endLsn: null, termHistory: [{ term: 1n, lsn }] }),
    () => encodeWal(lsn, lsn + 11n, mtrs(11, rng.int(0, 99))),
    () => encodeKeepalive(lsn, lsn),
    () => encodeEnd(lsn),
    () => encodeError('CORRUPT_FRAME', 'x'),
  ])();
  return { bytes: f, fields: [{ off: 0, size: 4, name: 'length prefix' }, { off: 4, size: 1, name: 'kind' }, { off: 5, size: 8, name: 'first u64' }], what: 'WAL stream frame' };
}

/**
 * A whole valid proposer session about `s`: Greeting, VoteRequest and
 * ProposerElected for the next term, then appends of whole mtrs from the
 * flush LSN, so that a mutation of one of them lands where only a session
 * gets (an elected proposer's append). Fields are those of the frame picked
 * for mutation, at its offset in the session.
 */
export function consensusSession(rng: Prng, s: ConsensusState): Encoded {
  const h = { tenantId: s.tenantId, timelineId: s.timelineId, generation: s.conf.generation };
  // The encoder asserts u64 fields: a state at the edge (the scratch tenant's guesses) keeps its term, and gets no appends past 2^64.
  // Sessions of one batch start from the same state: distinct terms let later ones win the election instead of being refused.
  const term = s.term < U64_MAX - 64n ? s.term + BigInt(rng.int(1, 64)) : s.term;
  const history: TermHistory = [...s.termHistory.filter((e) => e.lsn <= s.flushLsn), { term, lsn: s.flushLsn }];
  const messages: Message[] = [
    { ...h, type: 'Greeting', proposerId: 7, conf: s.conf },
    { ...h, type: 'VoteRequest', term },
    { ...h, type: 'ProposerElected', term, startStreamingAt: s.flushLsn, termHistory: history },
  ];
  let lsn = s.flushLsn;
  // Hostile redo that passes every checksum: record bytes changed, each mtr's CRC-32C computed again (the frames stay valid).
  const hostileRedo = rng.chance(0.5);
  for (let i = rng.int(1, 3); i > 0; i--) {
    const data = mtrs(rng.int(11, 300), rng.int(0, 1000));
    if (hostileRedo) corruptRecords(rng, data);
    if (lsn + BigInt(data.length) > U64_MAX) break;
    // A proposer with a quorum of one may announce as committed what it sent before: the page server then ingests it.
    const commitLsn = rng.chance(0.6) && lsn > s.commitLsn ? lsn : s.commitLsn;
    messages.push({ ...h, type: 'AppendRequest', term, beginLsn: lsn, endLsn: lsn + BigInt(data.length), commitLsn, data });
    lsn += BigInt(data.length);
  }
  // A heartbeat announcing the whole session committed.
  if (lsn > s.flushLsn && rng.chance(0.7)) messages.push({ ...h, type: 'AppendRequest', term, beginLsn: lsn, endLsn: lsn, commitLsn: lsn, data: new Uint8Array(0) });
  const frames = messages.map((m) => encodeMessage(m));
  // Hostile redo is the mutation: the frames around it stay as they are.
  if (hostileRedo) {
    const bytes = new Uint8Array(frames.reduce((n, f) => n + f.length, 0));
    let o = 0;
    for (const f of frames) {
      bytes.set(f, o);
      o += f.length;
    }
    return { bytes, fields: [], what: `session of ${frames.length} frames, CRC-valid hostile redo` };
  }
  const target = rng.int(0, frames.length - 1);
  const at = frames.slice(0, target).reduce((n, f) => n + f.length, 0);
  const m = messages[target]!;
  const own: Field[] =
    m.type === 'AppendRequest'
      ? [
          { off: BODY, size: 8, name: 'term' },
          { off: BODY + 8, size: 8, name: 'beginLsn' },
          { off: BODY + 16, size: 8, name: 'endLsn' },
          { off: BODY + 24, size: 8, name: 'commitLsn' },
          { off: BODY + 32, size: 4, name: 'data length' },
          // An mtr byte: its type, length or CRC.
          { off: BODY + 36 + rng.int(0, 10), size: 1, name: 'mtr byte' },
        ]
      : m.type === 'ProposerElected'
        ? [{ off: BODY, size: 8, name: 'term' }, { off: BODY + 8, size: 8, name: 'startStreamingAt' }, ...historyFields(BODY + 16, m.termHistory)]
        : m.type === 'VoteRequest'
          ? [{ off: BODY, size: 8, name: 'term' }]
          : [{ off: BODY, size: 4, name: 'proposerId' }];
  const bytes = new Uint8Array(frames.reduce((n, f) => n + f.length, 0));
  let o = 0;
  for (const f of frames) {
    bytes.set(f, o);
    o += f.length;
  }
  return { bytes, fields: [...HEAD_FIELDS, ...own].map((f) => ({ ...f, off: f.off + at, name: `${m.type}.${f.name}` })), what: `session of ${frames.length} frames` };
}
