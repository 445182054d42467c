/**
 * Reading a peer's WAL as one stream (`GET .../snapshot/wal/stream`, see
 * routes/wal-stream.ts): the peer pushes `[from, to)` in frames with no
 * request per chunk, each chunk checked on its side against the term history
 * it sent in HELLO. The frames are checked here too (core WalStreamDecoder):
 * a peer is another process whose bytes come over the network, and anything
 * it sends that a safekeeper would not is PeerFailed, never a crash.
 */
import { CorruptFrame } from '@strata/core';
import { WAL_STREAM_CONTENT_TYPE, WalStreamDecoder, type WalStreamFrame, type WalStreamHello } from '@strata/core/wal-stream';
import { PeerFailed } from './errors.js';

/** A peer that sends nothing for this long (it sends keepalives every KEEPALIVE_MS) is dead. */
const SILENT_MS_MAX = 30_000;
const KEEPALIVE_MS = 5_000;

export interface PeerAddress {
  readonly base: string;
  readonly tenantId: string;
  readonly timelineId: string;
  readonly authorization: string | undefined;
}

export class PeerWalStream {
  /** Received bytes beyond what `read` was asked for (a frame that crossed its bound), given first next time. */
  private carry: Uint8Array = new Uint8Array(0);

  private constructor(
    private readonly io: StreamIo,
    readonly hello: WalStreamHello,
  ) {}

  private get frames(): WalStreamDecoder {
    return this.io.frames;
  }

  /** Opens the stream of `[from, to)` (the peer caps `to` at its flush LSN: see `endLsn`) and reads its HELLO. */
  static async open(peer: PeerAddress, from: bigint, to: bigint): Promise<PeerWalStream> {
    const cut = new AbortController();
    const timer = setTimeout(() => cut.abort(), SILENT_MS_MAX);
    const path = `/v1/tenants/${peer.tenantId}/timelines/${peer.timelineId}/snapshot/wal/stream?from=${from}&to=${to}&keepaliveMs=${KEEPALIVE_MS}`;
    let res: Response;
    try {
      res = await fetch(`${peer.base}${path}`, { headers: peer.authorization ? { authorization: peer.authorization } : {}, signal: cut.signal });
    } catch (e) {
      throw new PeerFailed(peer.base, `WAL stream failed: ${(e as Error).message}`);
    } finally {
      clearTimeout(timer);
    }
    if (!res.ok) throw new PeerFailed(peer.base, `WAL stream answered HTTP ${res.status}: ${(await res.text()).slice(0, 500)}`);
    if (res.headers.get('content-type') !== WAL_STREAM_CONTENT_TYPE || !res.body) {
      cut.abort();
      throw new PeerFailed(peer.base, `WAL stream answered ${res.headers.get('content-type')}`);
    }
    const frames = new WalStreamDecoder({ startLsn: from });
    const reader = res.body.getReader();
    const io: StreamIo = { peer, reader, frames, cut };
    const first = await nextFrame(io);
    if (first.kind === 'error') {
      cut.abort();
      throw new PeerFailed(peer.base, `WAL stream refused: ${first.code}: ${first.message}`);
    }
    if (first.kind !== 'hello' || first.endLsn === null || first.endLsn > to) {
      cut.abort();
      throw new PeerFailed(peer.base, `WAL stream for ${from}..${to} began with a ${first.kind} frame ending at ${first.kind === 'hello' ? first.endLsn : '?'}`);
    }
    return new PeerWalStream(io, first);
  }

  /** The LSN of the next byte `read` gives. */
  get position(): bigint {
    return this.frames.nextLsn - BigInt(this.carry.length);
  }

  /** Where the stream ends: `to` capped by the peer's flush LSN. */
  get endLsn(): bigint {
    return this.hello.endLsn!;
  }

  /** The bytes `[position, min(upTo, endLsn))`, read from as many frames as it takes. */
  async read(upTo: bigint): Promise<Uint8Array> {
    const start = this.position;
    if (upTo > this.endLsn) upTo = this.endLsn;
    const parts: Uint8Array[] = [this.carry];
    while (this.frames.nextLsn < upTo) {
      const f = await nextFrame(this.io);
      if (f.kind === 'error') throw new PeerFailed(this.io.peer.base, `WAL stream ended: ${f.code}: ${f.message}`);
      if (f.kind === 'wal') parts.push(f.bytes);
    }
    // The peer cuts its own chunks: the last frame may cross `upTo`, and its tail waits for the next read.
    const n = upTo > start ? Number(upTo - start) : 0;
    const out = new Uint8Array(n);
    let at = 0;
    this.carry = new Uint8Array(0);
    for (const p of parts) {
      const take = Math.min(p.length, n - at);
      out.set(p.subarray(0, take), at);
      at += take;
      if (take < p.length) this.carry = p.slice(take);
    }
    return out;
  }

  close(): void {
    this.io.cut.abort();
  }
}

interface StreamIo {
  readonly peer: PeerAddress;
  readonly reader: ReadableStreamDefaultReader<Uint8Array>;
  readonly frames: WalStreamDecoder;
  readonly cut: AbortController;
}

async function nextFrame(s: StreamIo): Promise<WalStreamFrame> {
  for (;;) {
    let f: WalStreamFrame | undefined;
    try {
      f = s.frames.next();
    } catch (e) {
      s.cut.abort();
      if (e instanceof CorruptFrame) throw new PeerFailed(s.peer.base, e.message);
      throw e;
    }
    if (f) return f;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const silent = new Promise<'silent'>((r) => (timer = setTimeout(() => r('silent'), SILENT_MS_MAX)));
    let r: Awaited<ReturnType<typeof s.reader.read>> | 'silent';
    try {
      r = await Promise.race([s.reader.read(), silent]);
    } catch (e) {
      throw new PeerFailed(s.peer.base, `WAL stream broke: ${(e as Error).message}`);
    } finally {
      clearTimeout(timer);
    }
    if (r === 'silent') {
      s.cut.abort();
      throw new PeerFailed(s.peer.base, `nothing on the WAL stream for ${SILENT_MS_MAX} ms`);
    }
    if (r.done) throw new PeerFailed(s.peer.base, 'the WAL stream ended before its END frame');
    s.frames.push(r.value);
  }
}
