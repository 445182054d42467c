import { request as httpRequest, type IncomingMessage } from 'node:http';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { WAL_STREAM_CONTENT_TYPE, WalStreamDecoder, type WalStreamFrame } from '@strata/core/wal-stream';
import { listen, type Listening } from '@strata/service-kit';
import { TENANT, TIMELINE, createBody, json, testApp, type TestApp } from '../app.test-util.js';

const base = `/v1/tenants/${TENANT}/timelines`;
const data = Uint8Array.from({ length: 3000 }, (_, i) => (i * 13) & 0xff);
const labels = { tenant_id: TENANT, timeline_id: TIMELINE };

/** Frames of a WAL stream reply, read on demand. */
class FrameReader {
  private readonly reader: ReadableStreamDefaultReader<Uint8Array>;
  private readonly decoder: WalStreamDecoder;

  constructor(res: Response, startLsn: bigint) {
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe(WAL_STREAM_CONTENT_TYPE);
    this.reader = res.body!.getReader();
    this.decoder = new WalStreamDecoder({ startLsn });
  }

  async next(): Promise<WalStreamFrame | null> {
    for (;;) {
      const f = this.decoder.next();
      if (f) return f;
      const { done, value } = await this.reader.read();
      if (done) return null;
      this.decoder.push(value);
    }
  }

  /** WAL frames until the stream has sent up to `lsn`; their bytes joined. */
  async walUpTo(lsn: bigint): Promise<Uint8Array> {
    const parts: number[] = [];
    while (this.decoder.nextLsn < lsn) {
      const f = await this.next();
      if (!f) throw new Error('stream ended');
      if (f.kind === 'wal') parts.push(...f.bytes);
    }
    return Uint8Array.from(parts);
  }

  cancel(): Promise<void> {
    return this.reader.cancel();
  }
}

describe('WAL stream routes', () => {
  let t: TestApp;
  const open: FrameReader[] = [];
  beforeEach(async () => {
    t = await testApp({ segmentBytes: 1024, limits: { walReadBytes: 1000 } });
    await t.app.request(base, json(createBody({ startLsn: '1000' })));
    const tl = t.deps.timelines.get(TENANT, TIMELINE);
    await tl.appendWal(1000n, data);
    await tl.updateConsensus({ commitLsn: 3500n });
  });
  afterEach(async () => {
    await Promise.all(open.splice(0).map((r) => r.cancel()));
    await t.close();
  });

  async function stream(path: string, startLsn: bigint): Promise<FrameReader> {
    const r = new FrameReader(await t.app.request(`${base}/${TIMELINE}${path}`), startLsn);
    open.push(r);
    return r;
  }

  it('live: HELLO, the committed WAL in frames of at most the read limit, then each commit pushed as it happens', async () => {
    const r = await stream('/wal/stream?from=1500&keepaliveMs=5000', 1500n);
    expect(await r.next()).toEqual({ kind: 'hello', startLsn: 1500n, commitLsn: 3500n, flushLsn: 4000n, endLsn: null, termHistory: [] });
    const first = await r.next();
    expect(first).toMatchObject({ kind: 'wal', startLsn: 1500n, commitLsn: 3500n });
    expect(first?.kind === 'wal' && first.bytes.length).toBe(1000);
    expect(await r.walUpTo(3500n)).toEqual(data.subarray(1500, 2500));
    // Nothing is sent beyond the commit LSN, though it is flushed; a commit wakes the stream at once (keepalives are 5 s apart).
    const tl = t.deps.timelines.get(TENANT, TIMELINE);
    const t0 = performance.now();
    const pending = r.next();
    await tl.updateConsensus({ commitLsn: 3600n });
    expect(await pending).toMatchObject({ kind: 'wal', startLsn: 3500n, commitLsn: 3600n, bytes: data.subarray(2500, 2600) });
    expect(performance.now() - t0).toBeLessThan(1000);
    expect(t.deps.metrics.walBytesSent.get(labels)).toBe(2100n);
  });

  it('live: KEEPALIVE with the commit and flush LSNs while nothing commits', async () => {
    const r = await stream('/wal/stream?from=3500&keepaliveMs=20', 3500n);
    expect((await r.next())?.kind).toBe('hello');
    expect(await r.next()).toEqual({ kind: 'keepalive', commitLsn: 3500n, flushLsn: 4000n });
    expect(await r.next()).toEqual({ kind: 'keepalive', commitLsn: 3500n, flushLsn: 4000n });
  });

  it('live: refuses before the stream what the long-poll refuses (typed HTTP errors)', async () => {
    const below = await t.app.request(`${base}/${TIMELINE}/wal/stream?from=999`);
    expect(below.status).toBe(400);
    expect(((await below.json()) as { code: string }).code).toBe('LSN_OUT_OF_RANGE');
    const badKeepalive = await t.app.request(`${base}/${TIMELINE}/wal/stream?from=1000&keepaliveMs=1`);
    expect(((await badKeepalive.json()) as { code: string }).code).toBe('BAD_REQUEST');
    const unknown = await t.app.request(`${base}/00000000000000000000000000000002/wal/stream?from=1000`);
    expect(unknown.status).toBe(404);
    const other = await testApp({ nodeId: 9 });
    try {
      await other.app.request(base, json(createBody({ conf: { generation: 3, members: [1, 2, 3] } })));
      const res = await other.app.request(`${base}/${TIMELINE}/wal/stream?from=1000`);
      expect(res.status).toBe(403);
      expect(((await res.json()) as { code: string }).code).toBe('NOT_A_MEMBER');
    } finally {
      await other.close();
    }
  });

  it('live: a timeline deleted under the stream ends it with an ERROR frame (TIMELINE_NOT_FOUND)', async () => {
    const r = await stream('/wal/stream?from=3500&keepaliveMs=5000', 3500n);
    expect((await r.next())?.kind).toBe('hello');
    const pending = r.next();
    await t.app.request(`${base}/${TIMELINE}`, { method: 'DELETE' });
    expect(await pending).toMatchObject({ kind: 'error', code: 'TIMELINE_NOT_FOUND' });
    expect(await r.next()).toBeNull();
  });

  it('live: a node the configuration drops mid-stream ends it with NOT_A_MEMBER', async () => {
    const r = await stream('/wal/stream?from=3500&keepaliveMs=20', 3500n);
    expect((await r.next())?.kind).toBe('hello');
    const tl = t.deps.timelines.get(TENANT, TIMELINE);
    await tl.updateConsensus({ conf: { generation: 2, members: [2, 3, 4] } });
    let f = await r.next();
    while (f?.kind === 'keepalive') f = await r.next();
    expect(f).toMatchObject({ kind: 'error', code: 'NOT_A_MEMBER' });
  });

  it('bounded (peers): stored WAL up to the flush LSN, uncommitted included, then END; `to` caps it', async () => {
    const all = await stream('/snapshot/wal/stream?from=1000', 1000n);
    expect(await all.next()).toMatchObject({ kind: 'hello', endLsn: 4000n });
    expect(await all.walUpTo(4000n)).toEqual(data);
    expect(await all.next()).toEqual({ kind: 'end', endLsn: 4000n });
    expect(await all.next()).toBeNull();
    const part = await stream('/snapshot/wal/stream?from=1200&to=1300', 1200n);
    expect(await part.next()).toMatchObject({ kind: 'hello', endLsn: 1300n });
    expect(await part.walUpTo(1300n)).toEqual(data.subarray(200, 300));
    expect(await part.next()).toEqual({ kind: 'end', endLsn: 1300n });
    const beyond = await t.app.request(`${base}/${TIMELINE}/snapshot/wal/stream?from=4001`);
    expect(((await beyond.json()) as { code: string }).code).toBe('LSN_OUT_OF_RANGE');
  });

  it('bounded: a log that changes below what is being sent ends the stream with PULL_CONFLICT, not with the bytes', async () => {
    const r = await stream('/snapshot/wal/stream?from=1000', 1000n);
    expect((await r.next())?.kind).toBe('hello');
    expect((await r.next())?.kind).toBe('wal');
    // A new term's history that owns the log from 1500: the bytes beyond it may not be the ones HELLO described.
    await t.deps.timelines.get(TENANT, TIMELINE).updateConsensus({ term: 2n, termHistory: [{ term: 2n, lsn: 1500n }] });
    expect(await r.next()).toMatchObject({ kind: 'error', code: 'PULL_CONFLICT' });
  });
});

describe('WAL stream over a real socket', () => {
  let t: TestApp;
  let server: Listening;
  beforeEach(async () => {
    t = await testApp({ segmentBytes: 16 << 20 });
    await t.app.request(base, json(createBody({ startLsn: '1000' })));
    server = await listen(t.app.fetch, { host: '127.0.0.1', port: 0 });
  });
  afterEach(async () => {
    await server.close();
    await t.close();
  });

  /** A raw GET whose socket the test pauses and resumes. */
  function get(path: string): Promise<IncomingMessage> {
    return new Promise((resolve, reject) => httpRequest(`${server.url}${base}/${TIMELINE}${path}`, resolve).on('error', reject).end());
  }

  it('flow control: a reader that stops reading stops the sender after a bounded amount, and gets the rest when it reads again', async () => {
    const tl = t.deps.timelines.get(TENANT, TIMELINE);
    const total = 16 << 20;
    const wal = new Uint8Array(total);
    for (let i = 0; i < total; i++) wal[i] = (i * 31) & 0xff;
    await tl.appendWal(1000n, wal);
    await tl.updateConsensus({ commitLsn: 1000n + BigInt(total) });
    const res = await get('/wal/stream?from=1000');
    res.pause();
    await new Promise((r) => setTimeout(r, 300));
    const sentWhilePaused = t.deps.metrics.walBytesSent.get(labels);
    await new Promise((r) => setTimeout(r, 200));
    // The sender stopped, well short of the WAL it could send: a frame and the socket buffers, not everything.
    expect(t.deps.metrics.walBytesSent.get(labels)).toBe(sentWhilePaused);
    console.log(`sent while the reader was paused: ${sentWhilePaused} of ${total} bytes`);
    expect(sentWhilePaused).toBeLessThan(BigInt(total / 2));
    const decoder = new WalStreamDecoder({ startLsn: 1000n });
    let received = 0;
    await new Promise<void>((resolve, reject) => {
      res.on('data', (chunk: Buffer) => {
        try {
          decoder.push(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length));
          for (let f = decoder.next(); f; f = decoder.next()) if (f.kind === 'wal') received += f.bytes.length;
          if (received === total) resolve();
        } catch (e) {
          reject(e as Error);
        }
      });
      res.resume();
    });
    res.destroy();
    expect(decoder.nextLsn).toBe(1000n + BigInt(total));
  }, 30_000);

  it('latency: a commit reaches a streaming reader within a few ms (no poll interval)', async () => {
    const tl = t.deps.timelines.get(TENANT, TIMELINE);
    const res = await get('/wal/stream?from=1000&keepaliveMs=60000');
    const decoder = new WalStreamDecoder({ startLsn: 1000n });
    let arrived: (() => void) | undefined;
    res.on('data', (chunk: Buffer) => {
      decoder.push(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length));
      for (let f = decoder.next(); f; f = decoder.next()) if (f.kind === 'wal') arrived?.();
    });
    // From the moment the commit LSN moves (after the control file write that makes it durable) to the frame's arrival.
    let committedAt = 0;
    const advance = tl.commits.advance.bind(tl.commits);
    tl.commits.advance = (l: bigint) => {
      committedAt = performance.now();
      advance(l);
    };
    const latenciesMs: number[] = [];
    let lsn = 1000n;
    for (let i = 0; i < 50; i++) {
      await tl.appendWal(lsn, Uint8Array.of(i, i, i, i));
      lsn += 4n;
      const got = new Promise<void>((r) => (arrived = r));
      await tl.updateConsensus({ commitLsn: lsn });
      await got;
      latenciesMs.push(performance.now() - committedAt);
    }
    res.destroy();
    latenciesMs.sort((a, b) => a - b);
    const p50 = latenciesMs[25]!;
    console.log(`commit → frame at the reader over loopback: p50 ${p50.toFixed(2)} ms, max ${latenciesMs.at(-1)!.toFixed(2)} ms`);
    expect(p50).toBeLessThan(10);
  });

  it('drain ends an open stream with SHUTTING_DOWN instead of waiting for it', async () => {
    const res = await get('/wal/stream?from=1000&keepaliveMs=60000');
    const chunks: Buffer[] = [];
    const ended = new Promise<void>((r) => res.on('end', () => r()));
    res.on('data', (c: Buffer) => chunks.push(c));
    await new Promise((r) => setTimeout(r, 50));
    const t0 = Date.now();
    await server.drain();
    await ended;
    expect(Date.now() - t0).toBeLessThan(1500);
    const decoder = new WalStreamDecoder({ startLsn: 1000n });
    decoder.push(new Uint8Array(Buffer.concat(chunks)));
    expect(decoder.next()?.kind).toBe('hello');
    expect(decoder.next()).toMatchObject({ kind: 'error', code: 'SHUTTING_DOWN' });
  });
});
