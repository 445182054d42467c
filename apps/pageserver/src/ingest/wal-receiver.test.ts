/**
 * The WAL receiver against real HTTP servers that speak the safekeeper's
 * protocol (status with commitLsn; `.../wal/stream?from` pushing core
 * `wal-stream` frames of committed bytes; `.../remote_consistent_lsn`),
 * serving framed mtrs of a synthetic log over the seeded timeline.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { redo, StrataError } from '@strata/core';
import { encodeError, encodeHello, encodeKeepalive, encodeWal, WAL_STREAM_CONTENT_TYPE } from '@strata/core/wal-stream';
import { memoryLogger } from '@strata/service-kit';
import { PageserverMetrics } from '../metrics.js';
import { LSN, SPACE } from '../seed-timeline.test-util.js';
import { seededDir } from '../storage/synthetic-wal.test-util.js';
import { Timeline } from '../storage/timeline.js';
import { ReceiverError, WalReceiver, type WalReceiverOptions } from './wal-receiver.js';

/** One framed mtr: a WRITE of 2 bytes to `pageNo` of the seeded space, end byte 1, CRC-32C. */
function framedWrite(i: number, pageNo: number): Uint8Array {
  const body = [0x35, SPACE, pageNo, 100 + (i % 20), i & 0xff, (i >> 8) & 0xff];
  const out = new Uint8Array(body.length + 5);
  out.set(body);
  out[body.length] = 1;
  const c = redo.crc32c(out, 0, body.length);
  new DataView(out.buffer).setUint32(body.length + 1, c);
  return out;
}

/** A log of `n` mtrs starting at the seeded timeline's LSN. */
function walLog(n: number): Uint8Array {
  const parts = Array.from({ length: n }, (_, i) => framedWrite(i, 1 + (i % 3)));
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
const MTR_BYTES = BigInt(framedWrite(0, 1).length);
const lsnAfter = (mtrs: number) => LSN + BigInt(mtrs) * MTR_BYTES;

/** One open WAL stream of the stand-in: where it is, and how to write to it with flow control. */
class Subscriber {
  sent: bigint;
  private writing: Promise<void> = Promise.resolve();
  keepalive: ReturnType<typeof setInterval> | undefined;
  constructor(
    readonly res: ServerResponse,
    from: bigint,
  ) {
    this.sent = from;
  }

  /** Queued writes, each after the socket drained the one before: what a sender with flow control does. */
  write(frame: Uint8Array, onWritten: (n: number) => void): void {
    this.writing = this.writing.then(async () => {
      if (this.res.destroyed) return;
      onWritten(frame.length);
      if (!this.res.write(frame)) await new Promise((r) => this.res.once('drain', r).once('close', r));
    });
  }

  /** Ends the reply after the queued writes. */
  end(): void {
    this.writing = this.writing.then(() => void this.res.end());
  }
}

/**
 * A safekeeper stand-in: `commitMtrs` of `log` are committed (raise it with
 * `commit`, which pushes to open streams at once); each WAL frame holds at
 * most `mtrsPerFrame`.
 */
class FakeSafekeeper {
  private committed: number;
  mtrsPerFrame = 1_000_000;
  /** Bytes to send in the next WAL frame instead of the log (a corrupt mtr), once. */
  corruptOnce: Uint8Array | undefined;
  /** Send a frame that breaks the stream's rules (a WAL frame one byte off), once. */
  hostileOnce = false;
  /** End the next stream with this error frame after HELLO, once. */
  errorOnce: { code: string; message: string } | undefined;
  streams = 0;
  /** Bytes handed to sockets, frames included (what flow control bounds). */
  bytesWritten = 0;
  reported: bigint[] = [];
  private readonly subscribers = new Set<Subscriber>();
  private server: Server;
  url = '';

  constructor(
    private readonly log: Uint8Array,
    commitMtrs: number,
  ) {
    this.committed = commitMtrs;
    this.server = createServer((req, res) => void this.handle(req, res));
  }

  get commitMtrs(): number {
    return this.committed;
  }

  /** Commits up to `mtrs` and pushes the new bytes to every open stream. */
  commit(mtrs: number): void {
    this.committed = mtrs;
    for (const s of this.subscribers) this.push(s);
  }

  async start(): Promise<this> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async stop(): Promise<void> {
    for (const s of this.subscribers) clearInterval(s.keepalive);
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  private get commitLsn(): bigint {
    return lsnAfter(this.committed);
  }

  private push(s: Subscriber): void {
    while (s.sent < this.commitLsn) {
      const limit = s.sent + BigInt(this.mtrsPerFrame) * MTR_BYTES;
      const end = this.commitLsn < limit ? this.commitLsn : limit;
      let bytes = this.log.subarray(Number(s.sent - LSN), Number(end - LSN));
      if (this.corruptOnce) {
        bytes = this.corruptOnce;
        this.corruptOnce = undefined;
      }
      const start = this.hostileOnce ? s.sent + 1n : s.sent;
      this.hostileOnce = false;
      s.write(encodeWal(start, this.commitLsn, bytes), (n) => (this.bytesWritten += n));
      s.sent += BigInt(bytes.length);
    }
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://x');
    if (req.method === 'POST' && url.pathname.endsWith('/remote_consistent_lsn')) {
      let body = '';
      for await (const chunk of req) body += String(chunk);
      this.reported.push(BigInt((JSON.parse(body) as { lsn: string }).lsn));
      res.writeHead(200).end('{}');
      return;
    }
    if (url.pathname.endsWith('/wal/stream')) {
      this.streams++;
      const from = BigInt(url.searchParams.get('from') ?? '0');
      const keepaliveMs = Number(url.searchParams.get('keepaliveMs') ?? '1000');
      res.writeHead(200, { 'content-type': WAL_STREAM_CONTENT_TYPE });
      const s = new Subscriber(res, from);
      s.write(encodeHello({ startLsn: from, commitLsn: this.commitLsn, flushLsn: this.commitLsn, endLsn: null, termHistory: [] }), (n) => (this.bytesWritten += n));
      if (this.errorOnce) {
        s.write(encodeError(this.errorOnce.code, this.errorOnce.message), () => undefined);
        this.errorOnce = undefined;
        s.end();
        return;
      }
      this.subscribers.add(s);
      s.keepalive = setInterval(() => s.write(encodeKeepalive(this.commitLsn, this.commitLsn), (n) => (this.bytesWritten += n)), keepaliveMs);
      res.on('close', () => {
        clearInterval(s.keepalive);
        this.subscribers.delete(s);
      });
      this.push(s);
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ commitLsn: this.commitLsn.toString() }));
  }
}

async function until(what: string, f: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!f()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('WalReceiver', () => {
  let dataDir: string;
  let timelineDir: string;
  let timeline: Timeline;
  const servers: FakeSafekeeper[] = [];
  const receivers: WalReceiver[] = [];
  const bugs: Error[] = [];
  let log: ReturnType<typeof memoryLogger>;
  let metrics: PageserverMetrics;

  function receiver(urls: string[], extra: Partial<WalReceiverOptions> = {}): WalReceiver {
    const r = new WalReceiver({ timeline, safekeepers: urls, metrics, log, keepaliveMs: 50, onBug: (e) => bugs.push(e), ...extra });
    receivers.push(r);
    r.start();
    return r;
  }
  async function safekeeper(wal: Uint8Array, commitMtrs: number): Promise<FakeSafekeeper> {
    const s = await new FakeSafekeeper(wal, commitMtrs).start();
    servers.push(s);
    return s;
  }

  beforeEach(() => {
    ({ dataDir, timelineDir } = seededDir('strata-wal-receiver-'));
    timeline = Timeline.load(timelineDir);
    log = memoryLogger();
    metrics = new PageserverMetrics();
    bugs.length = 0;
  });
  afterEach(async () => {
    await Promise.all(receivers.splice(0).map((r) => r.stop()));
    await Promise.all(servers.splice(0).map((s) => s.stop()));
    timeline.close();
    await timeline.flushed();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('streams from the safekeeper with the highest commit LSN, and picks again when it goes away', async () => {
    const wal = walLog(60);
    const behind = await safekeeper(wal, 20);
    const ahead = await safekeeper(wal, 40);
    const r = receiver([behind.url, ahead.url]);
    await until('the ahead safekeeper\'s commit LSN ingested', () => timeline.lastRecordLsn === lsnAfter(40));
    expect(r.status).toMatchObject({ safekeeper: ahead.url, commitLsn: lsnAfter(40), state: 'streaming' });
    expect(behind.streams).toBe(0);
    // The one streamed from dies; the other has since committed more.
    behind.commit(60);
    await ahead.stop();
    servers.splice(servers.indexOf(ahead), 1);
    await until('the rest ingested from the other safekeeper', () => timeline.lastRecordLsn === lsnAfter(60));
    expect(r.status.safekeeper).toBe(behind.url);
    expect(bugs).toEqual([]);
    // What was ingested is what the log says: 20 writes to page 1 among the 60.
    const page = timeline.getPageRaw({ spaceId: SPACE, pageNo: 1 }, timeline.lastRecordLsn)!;
    expect(page.lsn).toBe(lsnAfter(58));
  });

  it('a corrupt mtr in a WAL frame is a ReceiverError that is retried, not a crash and not a bug', async () => {
    const wal = walLog(30);
    const sk = await safekeeper(wal, 30);
    const bad = wal.slice(0, 3 * Number(MTR_BYTES));
    const at = Number(MTR_BYTES) + 4; // the second mtr's payload: its CRC no longer matches
    bad[at] = bad[at]! ^ 0x55;
    sk.corruptOnce = bad;
    const r = receiver([sk.url]);
    await until('the log ingested after the retry', () => timeline.lastRecordLsn === lsnAfter(30));
    const warned = log.lines.filter((l) => l.msg === 'WAL receiver: retrying').map((l) => String(l.fields?.error));
    expect(warned.some((e) => /corrupt WAL from/.test(e))).toBe(true);
    // Typed: a StrataError whose code the log carries.
    expect(log.lines.some((l) => l.msg === 'WAL receiver: retrying' && l.fields?.['code'] === 'CORRUPT_WAL')).toBe(true);
    expect(new ReceiverError('CORRUPT_WAL', 'x')).toBeInstanceOf(StrataError);
    expect(metrics.receiverErrors.get({ tenant_id: timeline.tenantId, timeline_id: timeline.timelineId })).toBeGreaterThan(0n);
    expect(bugs).toEqual([]);
    expect(r.status.state).not.toBe('failed');
  });

  it('a frame that breaks the stream\'s rules (WAL not where the stream is) is a ReceiverError, retried', async () => {
    const sk = await safekeeper(walLog(10), 10);
    sk.hostileOnce = true;
    receiver([sk.url]);
    await until('ingested after the retry', () => timeline.lastRecordLsn === lsnAfter(10));
    const warned = log.lines.filter((l) => l.msg === 'WAL receiver: retrying').map((l) => String(l.fields?.error));
    expect(warned.some((e) => /WAL frame at \d+, expected \d+/.test(e))).toBe(true);
    expect(log.lines.some((l) => l.msg === 'WAL receiver: retrying' && l.fields?.['code'] === 'SAFEKEEPER_BAD_REPLY')).toBe(true);
    expect(bugs).toEqual([]);
  });

  it('hostile bytes instead of frames (oversized, unknown kind, short, cut short) are ReceiverErrors, never a crash', async () => {
    const garbage: [Uint8Array, string][] = [
      [Uint8Array.of(0x7f, 0xff, 0xff, 0xff, 2), 'SAFEKEEPER_BAD_REPLY'],
      [Uint8Array.of(0, 0, 0, 1, 99), 'SAFEKEEPER_BAD_REPLY'],
      [Uint8Array.of(0, 0, 0, 5, 2, 1, 2, 3, 4), 'SAFEKEEPER_BAD_REPLY'],
      // The head of a 2.4 MB frame, then the end: a stream cut short.
      [Uint8Array.from({ length: 64 }, (_, i) => (i * 37) & 0xff), 'STREAM_LOST'],
    ];
    for (const [bytes, code] of garbage) {
      const server = createServer((req, res) => {
        if (req.url?.includes('/wal/stream')) res.writeHead(200, { 'content-type': WAL_STREAM_CONTENT_TYPE }).end(bytes);
        else res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ commitLsn: '200000' }));
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      const r = receiver([`http://127.0.0.1:${(server.address() as AddressInfo).port}`]);
      await until(`a retry logged with ${code}`, () => log.lines.some((l) => l.msg === 'WAL receiver: retrying' && l.fields?.['code'] === code));
      expect(r.status.state).not.toBe('failed');
      await r.stop();
      receivers.splice(receivers.indexOf(r), 1);
      server.closeAllConnections();
      await new Promise<void>((res) => server.close(() => res()));
      log.lines.length = 0;
    }
    expect(timeline.lastRecordLsn).toBe(LSN);
    expect(bugs).toEqual([]);
  });

  it('an ERROR frame (the safekeeper stopping, leaving the configuration) is SAFEKEEPER_ERROR: it picks again and goes on', async () => {
    const sk = await safekeeper(walLog(10), 10);
    sk.errorOnce = { code: 'SHUTTING_DOWN', message: 'the safekeeper is shutting down' };
    receiver([sk.url]);
    await until('ingested after the retry', () => timeline.lastRecordLsn === lsnAfter(10));
    expect(log.lines.some((l) => l.msg === 'WAL receiver: retrying' && l.fields?.['code'] === 'SAFEKEEPER_ERROR' && /SHUTTING_DOWN/.test(String(l.fields['error'])))).toBe(true);
    expect(sk.streams).toBe(2);
  });

  it('a stream that goes silent (no keepalive) is dropped as STREAM_LOST', async () => {
    const server = createServer((req, res) => {
      if (req.url?.includes('/wal/stream')) {
        res.writeHead(200, { 'content-type': WAL_STREAM_CONTENT_TYPE });
        res.write(encodeHello({ startLsn: LSN, commitLsn: LSN, flushLsn: LSN, endLsn: null, termHistory: [] }));
      } else res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ commitLsn: LSN.toString() }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      receiver([`http://127.0.0.1:${(server.address() as AddressInfo).port}`], { keepaliveMs: 20 });
      await until('dropped', () => log.lines.some((l) => l.fields?.['code'] === 'STREAM_LOST' && /nothing on the WAL stream for 100 ms/.test(String(l.fields['error']))));
    } finally {
      server.closeAllConnections();
      await new Promise<void>((res) => server.close(() => res()));
    }
  });

  it('latency: a commit reaches lastRecordLsn within a few ms, with no poll interval (keepalives 10 s apart)', async () => {
    const n = 60;
    const sk = await safekeeper(walLog(n), 0);
    receiver([sk.url], { keepaliveMs: 10_000 });
    await until('streaming', () => sk.streams === 1);
    await new Promise((r) => setTimeout(r, 50));
    const latenciesMs: number[] = [];
    for (let i = 1; i <= n; i++) {
      const t0 = performance.now();
      sk.commit(i);
      // What GetPage waits on: woken by ingest itself.
      await timeline.waitForLsn(lsnAfter(i), 5_000);
      latenciesMs.push(performance.now() - t0);
    }
    latenciesMs.sort((a, b) => a - b);
    const p50 = latenciesMs[Math.floor(n / 2)]!;
    console.log(`commit → page server lastRecordLsn over loopback: p50 ${p50.toFixed(2)} ms, max ${latenciesMs[n - 1]!.toFixed(2)} ms`);
    expect(p50).toBeLessThan(10);
    expect(sk.streams).toBe(1);
  });

  it('backpressure stops reading the socket: the sender is held back by TCP, and goes on once it reads', async () => {
    const n = 1_000_000;
    const sk = await safekeeper(walLog(n), n);
    sk.mtrsPerFrame = 50_000;
    let open: () => void = () => undefined;
    const gate = new Promise<void>((r) => (open = r));
    let waits = 0;
    receiver([sk.url], { backpressure: () => (waits++, gate) });
    let written = 0;
    try {
      await until('the receiver waiting', () => waits > 0 && sk.streams === 1);
      await new Promise((r) => setTimeout(r, 300));
      written = sk.bytesWritten;
      await new Promise((r) => setTimeout(r, 200));
      console.log(`written to the socket while the receiver did not read: ${written} of ${n * Number(MTR_BYTES)} bytes`);
      expect(sk.bytesWritten).toBe(written);
      expect(written).toBeLessThan((n * Number(MTR_BYTES)) / 2);
      expect(timeline.lastRecordLsn).toBe(LSN);
    } finally {
      open();
    }
    // Reading again, it gets past everything the socket buffers held: the sender went on.
    await until('ingest past what was buffered', () => timeline.lastRecordLsn > LSN + BigInt(written) && sk.bytesWritten > written, 30_000);
  }, 60_000);

  it('waits while more than one frozen layer waits to be written (backpressure), then goes on', async () => {
    await timeline.flushed();
    timeline.close();
    timeline = Timeline.load(timelineDir, { checkpointBytes: 1 });
    const wal = walLog(40);
    const sk = await safekeeper(wal, 40);
    sk.mtrsPerFrame = 1;
    // Layer writes fail while the layers directory is away: frozen layers pile up.
    const layersDir = join(timelineDir, 'layers');
    const aside = `${layersDir}-aside`;
    renameSync(layersDir, aside);
    receiver([sk.url]);
    await until('ingest stalled behind frozen layers', () => timeline.frozenLayers > 1);
    const stalledAt = timeline.lastRecordLsn;
    await new Promise((r) => setTimeout(r, 300));
    expect(timeline.lastRecordLsn).toBe(stalledAt);
    expect(timeline.frozenLayers).toBe(2);
    expect(timeline.lastFlushError).not.toBeNull();
    renameSync(aside, layersDir);
    await until('the rest ingested once layers are written', () => timeline.lastRecordLsn === lsnAfter(40), 20_000);
    expect(bugs).toEqual([]);
  }, 30_000);

  it('reports the disk-consistent LSN to the safekeepers once it moves', async () => {
    const wal = walLog(10);
    const sk = await safekeeper(wal, 10);
    receiver([sk.url], { checkpointTimeoutMs: 0 });
    await until('a report', () => sk.reported.some((l) => l === lsnAfter(10)));
    expect(timeline.diskConsistentLsn).toBe(lsnAfter(10));
  });
});
