/**
 * The WAL receiver against real HTTP servers that speak the safekeeper's
 * WAL protocol (status with commitLsn; `.../wal?from` answering committed
 * bytes with x-strata-end-lsn and x-strata-commit-lsn; `.../remote_consistent_lsn`),
 * serving framed mtrs of a synthetic log over the seeded timeline.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { redo, StrataError } from '@strata/core';
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

/** A safekeeper stand-in: `commitMtrs` of `log` are committed; each WAL answer holds at most `mtrsPerResponse`. */
class FakeSafekeeper {
  commitMtrs: number;
  mtrsPerResponse = 1_000_000;
  /** Bytes to answer instead of the log (a corrupt response), once. */
  corruptOnce: Uint8Array | undefined;
  /** Claim one byte more than sent in x-strata-end-lsn, once. */
  badEndOnce = false;
  walRequests = 0;
  reported: bigint[] = [];
  private server: Server;
  url = '';

  constructor(
    private readonly log: Uint8Array,
    commitMtrs: number,
  ) {
    this.commitMtrs = commitMtrs;
    this.server = createServer((req, res) => void this.handle(req, res));
  }

  async start(): Promise<this> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  private get commitLsn(): bigint {
    return lsnAfter(this.commitMtrs);
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
    if (url.pathname.endsWith('/wal')) {
      this.walRequests++;
      const from = BigInt(url.searchParams.get('from') ?? '0');
      // Nothing new: a short long-poll, so tests move quickly.
      if (from >= this.commitLsn) await new Promise((r) => setTimeout(r, 20));
      const limit = from + BigInt(this.mtrsPerResponse) * MTR_BYTES;
      const end = this.commitLsn < limit ? this.commitLsn : limit;
      let bytes = this.log.subarray(Number(from - LSN), Number(end - LSN));
      if (this.corruptOnce && bytes.length > 0) {
        bytes = this.corruptOnce;
        this.corruptOnce = undefined;
      }
      const lie = this.badEndOnce && bytes.length > 0 ? 1n : 0n;
      if (lie) this.badEndOnce = false;
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'x-strata-end-lsn': (from + BigInt(bytes.length) + lie).toString(), 'x-strata-commit-lsn': this.commitLsn.toString() });
      res.end(bytes);
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
    const r = new WalReceiver({ timeline, safekeepers: urls, metrics, log, pollWaitMs: 50, onBug: (e) => bugs.push(e), ...extra });
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
    expect(behind.walRequests).toBe(0);
    // The one streamed from dies; the other has since committed more.
    behind.commitMtrs = 60;
    await ahead.stop();
    servers.splice(servers.indexOf(ahead), 1);
    await until('the rest ingested from the other safekeeper', () => timeline.lastRecordLsn === lsnAfter(60));
    expect(r.status.safekeeper).toBe(behind.url);
    expect(bugs).toEqual([]);
    // What was ingested is what the log says: 20 writes to page 1 among the 60.
    const page = timeline.getPageRaw({ spaceId: SPACE, pageNo: 1 }, timeline.lastRecordLsn)!;
    expect(page.lsn).toBe(lsnAfter(58));
  });

  it('a corrupt WAL response is a ReceiverError that is retried, not a crash and not a bug', async () => {
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

  it('a WAL response whose length disagrees with its LSN headers is a ReceiverError, retried', async () => {
    const sk = await safekeeper(walLog(10), 10);
    sk.badEndOnce = true;
    receiver([sk.url]);
    await until('ingested after the retry', () => timeline.lastRecordLsn === lsnAfter(10));
    const warned = log.lines.filter((l) => l.msg === 'WAL receiver: retrying').map((l) => String(l.fields?.error));
    expect(warned.some((e) => /WAL response of \d+ bytes for/.test(e))).toBe(true);
    expect(log.lines.some((l) => l.msg === 'WAL receiver: retrying' && l.fields?.['code'] === 'SAFEKEEPER_BAD_REPLY')).toBe(true);
    expect(bugs).toEqual([]);
  });

  it('waits while more than one frozen layer waits to be written (backpressure), then goes on', async () => {
    await timeline.flushed();
    timeline.close();
    timeline = Timeline.load(timelineDir, { checkpointBytes: 1 });
    const wal = walLog(40);
    const sk = await safekeeper(wal, 40);
    sk.mtrsPerResponse = 1;
    // Layer writes fail while the layers directory is away: frozen layers pile up.
    const layersDir = join(timelineDir, 'layers');
    const aside = `${layersDir}-aside`;
    renameSync(layersDir, aside);
    receiver([sk.url]);
    await until('ingest stalled behind frozen layers', () => timeline.frozenLayers > 1);
    const requests = sk.walRequests;
    const stalledAt = timeline.lastRecordLsn;
    await new Promise((r) => setTimeout(r, 300));
    expect(sk.walRequests).toBe(requests);
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
