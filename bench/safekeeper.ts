/**
 * safekeeper: how fast three real safekeeper processes on loopback make WAL durable on a quorum,
 * against raw `write` + `fdatasync` of the same batches to one local file, in the same run on
 * the same disk.
 *
 * 1. Real MariaDB redo: the redo-apply workload (support/redo-workload.ts) runs on a private
 *    mariadbd until ≥ --size-mb MiB (default 24) of redo were written; the mtrs since the base
 *    checkpoint are read from its `ib_logfile0` and concatenated, as `strata wal push` sends them.
 * 2. Three `./strata safekeeper` processes (test/support/safekeepers.ts), each with its own data
 *    directory on the same file system as the baseline's file; fsync on (it cannot be turned off).
 * 3. For each batch size (4 KiB, 64 KiB, 128 KiB — Neon's published point — and 1 MiB), the redo
 *    is cut into batches of that size (cycling over it when more are needed) and
 *    - raw: one file, `writeSync` + `fdatasyncSync` per batch, timed per batch; run before and
 *      after the safekeeper phases, the samples pooled (the spread of the two is printed);
 *    - one at a time: a ProposerDriver on a fresh timeline, `append` then `await waitCommitted`
 *      of that batch's end before the next: commit latency p50/p99, no queueing;
 *    - pipelined: a window of WINDOW_BYTES of batches in flight (at least WINDOW_BATCHES_MIN),
 *      the next batch appended as soon as the oldest commits: throughput, and each batch's
 *      append → commit time (which here includes waiting behind the batches before it);
 *    - pipelined with `compression: 'zstd'`, the same way.
 *    The safekeepers' /metrics are scraped around each phase: WAL flushes (each one WAL
 *    fdatasync; the flush LSN is found again by scanning the WAL's tail) per batch show how much of
 *    the work was group-committed.
 * 4. zstd (level 1, @strata/zstd) on the same redo cut into the same batch sizes: ratio,
 *    compression and decompression speed, each batch compressed on its own as the proposer does.
 *
 * Ratios are printed first (against the raw baseline of the same run), absolute figures after.
 * A run of at least RECORDED_SIZE_MB_MIN MiB rewrites bench/results/safekeeper.json and the
 * `safekeeper-results` section of docs/benchmarks.md.
 *
 * `STRATA_BENCH_CPU_PROF=<dir>` profiles the safekeepers (support/cpu-profile.mjs): one
 * `.cpuprofile` per process in <dir> when they stop. The proposer side runs in this process:
 * `node --cpu-prof --import tsx bench/run.ts safekeeper` profiles it.
 */
import { closeSync, fdatasyncSync, openSync, unlinkSync, writeSync } from 'node:fs';
import * as fs from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ProposerDriver } from '@strata/client';
import { redo } from '@strata/core';
import { DEFAULT_ZSTD_LEVEL, zstdCompress, zstdDecompress } from '@strata/zstd';
import { openLogFile } from '@strata/datadir';
import { makeTempDir, readLogCheckpoint, removeTempDir, type StartOptions } from '../test/support/mariadb.js';
import { safekeeper, type SafekeeperProcess } from '../test/support/safekeepers.js';
import { type Bench, type BenchOptions, count, describeMachine, formatMachine, type Machine, MIB, mib, perSecond } from './support/bench.js';
import { replaceMarkedSection } from './support/docs-section.js';
import { recordRedoWorkload } from './support/redo-workload.js';

const NAME = 'safekeeper';
const DEFAULT_SIZE_MB = 24;
/** Runs at least this big (the issue asks for ≥ 20 MB of real redo) update the results and docs. */
const RECORDED_SIZE_MB_MIN = 20;
const SERVER: StartOptions = { logFileSize: '256M' };
const PAGE_SIZE = 16384;
const KIB = 1024;
const TENANT = '5afe0000000000000000000000000001';
const SAFEKEEPERS = 3;
/** Uncommitted bytes the pipelined phases keep in flight... */
const WINDOW_BYTES = 8 * MIB;
/** ...but never fewer batches than this. */
const WINDOW_BATCHES_MIN = 8;
const COMMIT_TIMEOUT_MS = 120_000;
const REPO_ROOT = fileURLToPath(new URL('../', import.meta.url));
const RESULTS_JSON = join(REPO_ROOT, 'bench/results/safekeeper.json');
const DOCS_MD = join(REPO_ROOT, 'docs/benchmarks.md');
const CPU_PROFILE_PRELOAD = pathToFileURL(join(REPO_ROOT, 'bench/support/cpu-profile.mjs')).href;

interface SizePlan {
  readonly bytes: number;
  /** Batches of the raw baseline and of the one-at-a-time phase (the same batches). */
  readonly serial: number;
  /** Batches of each pipelined phase. */
  readonly pipelined: number;
}

/** Counts for a full run; a quick run scales them down. About 5–15 s of work per size here. */
const PLANS: readonly SizePlan[] = [
  { bytes: 4 * KIB, serial: 500, pipelined: 4096 },
  { bytes: 64 * KIB, serial: 300, pipelined: 512 },
  { bytes: 128 * KIB, serial: 250, pipelined: 384 },
  { bytes: 1024 * KIB, serial: 100, pipelined: 96 },
];

// ---------------------------------------------------------------------------------------------
// Statistics

interface Latency {
  readonly p50: number;
  readonly p99: number;
  readonly mean: number;
  readonly max: number;
}

function latency(samples: readonly number[]): Latency {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number): number => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? Number.NaN;
  const sum = sorted.reduce((a, b) => a + b, 0);
  return { p50: at(0.5), p99: at(0.99), mean: sum / sorted.length, max: sorted[sorted.length - 1] ?? Number.NaN };
}

/** A timed run of batches: wall time and each batch's latency. */
interface Phase {
  readonly batches: number;
  readonly bytes: number;
  readonly ms: number;
  readonly latency: Latency;
  /** Each batch's latency, in milliseconds. */
  readonly samples: readonly number[];
  /** Bytes on the wire to each safekeeper (the body of its requests), when known. */
  readonly wireBytes?: number;
  /** WAL flushes (one fdatasync of the WAL each) summed over the safekeepers, when known. */
  readonly flushes?: number;
}

function mibPerSec(p: Phase): number {
  return perSecond(mib(p.bytes), p.ms);
}

// ---------------------------------------------------------------------------------------------
// Data

/** Every mtr of the log since `fromLsn`, concatenated: the bytes `strata wal push` would send. */
function readRedo(logPath: string, fromLsn: bigint): { bytes: Uint8Array; mtrs: number } {
  const reader = openLogFile(logPath);
  try {
    const parts: Uint8Array[] = [];
    let total = 0;
    for (const m of reader.mtrs(fromLsn, PAGE_SIZE)) {
      parts.push(m.bytes);
      total += m.bytes.length;
    }
    const bytes = new Uint8Array(total);
    let off = 0;
    for (const p of parts) {
      bytes.set(p, off);
      off += p.length;
    }
    return { bytes, mtrs: parts.length };
  } finally {
    reader.close();
  }
}

/**
 * `n` consecutive batches of the redo, each the whole mtrs that fit in `size` bytes (one mtr when
 * a single one is larger), starting over at its beginning when it runs out: safekeepers refuse an
 * append that is not whole mtrs, so a batch ends where an mtr does, as the compute's do.
 */
function batchesOf(redoBytes: Uint8Array, size: number, n: number): Uint8Array[] {
  if (redoBytes.length < size) throw new Error(`${redoBytes.length} bytes of redo cannot make a ${size}-byte batch`);
  const out: Uint8Array[] = [];
  let off = 0;
  for (let i = 0; i < n; i++) {
    if (off >= redoBytes.length) off = 0;
    const cut = redo.mtrCut(redoBytes, off, redoBytes.length, size);
    if (cut <= off) throw new Error(`the redo is not whole mtrs at byte ${off}`);
    out.push(redoBytes.subarray(off, cut));
    off = cut;
  }
  return out;
}

function sumBytes(batches: readonly Uint8Array[]): number {
  return batches.reduce((a, b) => a + b.length, 0);
}

// ---------------------------------------------------------------------------------------------
// Baseline: raw write + fdatasync

function rawWriteFsync(path: string, batches: readonly Uint8Array[]): Phase {
  const fd = openSync(path, 'w');
  const samples: number[] = [];
  const t0 = performance.now();
  try {
    for (const b of batches) {
      const t = performance.now();
      let done = 0;
      while (done < b.length) done += writeSync(fd, b, done, b.length - done);
      fdatasyncSync(fd);
      samples.push(performance.now() - t);
    }
  } finally {
    closeSync(fd);
  }
  const ms = performance.now() - t0;
  unlinkSync(path);
  return { batches: batches.length, bytes: sumBytes(batches), ms, latency: latency(samples), samples };
}

/** Both raw runs as one: their wall times added, their samples pooled. */
function pooled(a: Phase, b: Phase): Phase {
  const samples = [...a.samples, ...b.samples];
  return { batches: a.batches + b.batches, bytes: a.bytes + b.bytes, ms: a.ms + b.ms, latency: latency(samples), samples };
}

// ---------------------------------------------------------------------------------------------
// Safekeepers

interface Cluster {
  readonly sks: SafekeeperProcess[];
  nextTimeline: number;
}

async function startCluster(dir: string): Promise<Cluster> {
  const sks: SafekeeperProcess[] = [];
  const profDir = process.env['STRATA_BENCH_CPU_PROF'];
  const savedNodeOptions = process.env['NODE_OPTIONS'];
  if (profDir !== undefined) {
    // The safekeepers inherit the environment; node refuses --cpu-prof in NODE_OPTIONS.
    await fs.mkdir(profDir, { recursive: true });
    process.env['NODE_OPTIONS'] = `${savedNodeOptions ?? ''} --import ${CPU_PROFILE_PRELOAD}`.trim();
    process.env['STRATA_CPU_PROF_DIR'] = profDir;
  }
  try {
    for (let id = 1; id <= SAFEKEEPERS; id++) {
      const sk = await safekeeper(id, dir);
      sks.push(sk);
      await sk.start();
    }
  } catch (e) {
    for (const sk of sks) await sk.stop().catch(() => undefined);
    throw e;
  } finally {
    if (profDir !== undefined) {
      if (savedNodeOptions === undefined) delete process.env['NODE_OPTIONS'];
      else process.env['NODE_OPTIONS'] = savedNodeOptions;
    }
  }
  return { sks, nextTimeline: 1 };
}

async function stopCluster(c: Cluster): Promise<void> {
  for (const sk of c.sks) await sk.stop().catch(() => undefined);
}

async function createTimeline(c: Cluster, startLsn: bigint): Promise<string> {
  const timelineId = (c.nextTimeline++).toString(16).padStart(32, '0');
  const conf = { generation: 1, members: c.sks.map((s) => s.id) };
  for (const sk of c.sks) {
    const res = await fetch(`${sk.url}/v1/tenants/${TENANT}/timelines`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ timelineId, startLsn: startLsn.toString(), conf }),
    });
    if (res.status !== 200 && res.status !== 201) throw new Error(`creating timeline on safekeeper ${sk.id}: HTTP ${res.status} ${await res.text()}`);
  }
  return timelineId;
}

/** WAL flushes so far, summed over the safekeepers (`safekeeper_wal_fsync_seconds_count`). */
async function walFlushes(c: Cluster): Promise<number> {
  let total = 0;
  for (const sk of c.sks) {
    const text = await (await fetch(`${sk.url}/metrics`)).text();
    const m = /^safekeeper_wal_fsync_seconds_count(?:\{[^}]*\})? (\d+)$/m.exec(text);
    total += m ? Number(m[1]) : 0;
  }
  return total;
}

async function withProposer<T>(c: Cluster, startLsn: bigint, compression: 'zstd' | 'none', fn: (d: ProposerDriver) => Promise<T>): Promise<T> {
  const timelineId = await createTimeline(c, startLsn);
  const driver = new ProposerDriver({
    tenantId: TENANT,
    timelineId,
    proposerId: 1,
    safekeepers: c.sks.map((s) => ({ nodeId: s.id, baseUrl: s.url })),
    compression,
  });
  try {
    await driver.waitElected(30_000);
    return await fn(driver);
  } finally {
    driver.stop();
  }
}

function wireBytes(d: ProposerDriver): number {
  return d.peerStats().reduce((a, p) => a + p.bytesSent, 0) / SAFEKEEPERS;
}

/** `append`, then wait for that batch's commit before the next: latency without queueing. */
async function oneAtATime(c: Cluster, startLsn: bigint, batches: readonly Uint8Array[]): Promise<Phase> {
  return withProposer(c, startLsn, 'none', async (d) => {
    const flushes0 = await walFlushes(c);
    const wire0 = wireBytes(d);
    const samples: number[] = [];
    let lsn = d.endLsn;
    const t0 = performance.now();
    for (const b of batches) {
      const t = performance.now();
      d.append(lsn, b);
      lsn += BigInt(b.length);
      await d.waitCommitted(lsn, COMMIT_TIMEOUT_MS);
      samples.push(performance.now() - t);
    }
    const ms = performance.now() - t0;
    const flushes = (await walFlushes(c)) - flushes0;
    return { batches: batches.length, bytes: sumBytes(batches), ms, latency: latency(samples), samples, wireBytes: wireBytes(d) - wire0, flushes };
  });
}

/** A window of batches in flight; each batch's append → commit time includes its wait behind the others. */
async function pipelined(c: Cluster, startLsn: bigint, batches: readonly Uint8Array[], compression: 'zstd' | 'none'): Promise<Phase> {
  return withProposer(c, startLsn, compression, async (d) => {
    const size = batches[0]?.length ?? 1;
    const windowBatches = Math.max(WINDOW_BATCHES_MIN, Math.floor(WINDOW_BYTES / size));
    const flushes0 = await walFlushes(c);
    const wire0 = wireBytes(d);
    const samples: number[] = [];
    const inFlight: Promise<void>[] = [];
    let lsn = d.endLsn;
    const t0 = performance.now();
    for (const b of batches) {
      if (inFlight.length >= windowBatches) await inFlight.shift();
      const t = performance.now();
      d.append(lsn, b);
      lsn += BigInt(b.length);
      inFlight.push(d.waitCommitted(lsn, COMMIT_TIMEOUT_MS).then(() => void samples.push(performance.now() - t)));
    }
    await Promise.all(inFlight);
    const ms = performance.now() - t0;
    const flushes = (await walFlushes(c)) - flushes0;
    return { batches: batches.length, bytes: sumBytes(batches), ms, latency: latency(samples), samples, wireBytes: wireBytes(d) - wire0, flushes };
  });
}

// ---------------------------------------------------------------------------------------------
// zstd

interface ZstdMeasure {
  readonly batchBytes: number;
  readonly rawBytes: number;
  readonly compressedBytes: number;
  readonly compressMs: number;
  readonly decompressMs: number;
}

function measureZstd(redo: Uint8Array, size: number): ZstdMeasure {
  const batches = batchesOf(redo, size, Math.floor(redo.length / size));
  // Warm the contexts and the code outside the timing.
  zstdDecompress(zstdCompress(batches[0]!), batches[0]!.length);
  const compressed: Uint8Array[] = [];
  const t0 = performance.now();
  for (const b of batches) compressed.push(zstdCompress(b));
  const compressMs = performance.now() - t0;
  const t1 = performance.now();
  for (let i = 0; i < compressed.length; i++) {
    // A batch is whole mtrs: one mtr larger than `size` makes a larger batch.
    const out = zstdDecompress(compressed[i]!, batches[i]!.length);
    if (out.length !== batches[i]!.length) throw new Error(`zstd round trip of batch ${i} gave ${out.length} bytes`);
  }
  const decompressMs = performance.now() - t1;
  return { batchBytes: size, rawBytes: sumBytes(batches), compressedBytes: sumBytes(compressed), compressMs, decompressMs };
}

// ---------------------------------------------------------------------------------------------
// Measuring

interface SizeResult {
  readonly plan: SizePlan;
  readonly rawBefore: Phase;
  readonly rawAfter: Phase;
  /** Both raw runs pooled: the baseline. */
  readonly raw: Phase;
  readonly serial: Phase;
  readonly piped: Phase;
  readonly pipedZstd: Phase;
  readonly zstd: ZstdMeasure;
}

interface Measured {
  readonly opts: BenchOptions;
  readonly machine: Machine;
  readonly loadAfter: number;
  readonly redoBytes: number;
  readonly mtrs: number;
  readonly workloadMs: number;
  readonly sizes: readonly SizeResult[];
}

function scaled(plan: SizePlan, factor: number): SizePlan {
  return {
    bytes: plan.bytes,
    serial: Math.max(20, Math.round(plan.serial * factor)),
    pipelined: Math.max(WINDOW_BATCHES_MIN * 2, Math.round(plan.pipelined * factor)),
  };
}

async function measureSize(c: Cluster, dir: string, redo: Uint8Array, startLsn: bigint, plan: SizePlan): Promise<SizeResult> {
  const label = sizeLabel(plan.bytes);
  const serialBatches = batchesOf(redo, plan.bytes, plan.serial);
  const pipedBatches = batchesOf(redo, plan.bytes, plan.pipelined);
  const rawPath = join(dir, 'raw-baseline.bin');
  process.stderr.write(`${NAME}: ${label}: raw write+fdatasync, ${plan.serial} batches\n`);
  const rawBefore = rawWriteFsync(rawPath, serialBatches);
  process.stderr.write(`${NAME}: ${label}: quorum append one at a time, ${plan.serial} batches\n`);
  const serial = await oneAtATime(c, startLsn, serialBatches);
  process.stderr.write(`${NAME}: ${label}: quorum append pipelined, ${plan.pipelined} batches\n`);
  const piped = await pipelined(c, startLsn, pipedBatches, 'none');
  process.stderr.write(`${NAME}: ${label}: quorum append pipelined with zstd, ${plan.pipelined} batches\n`);
  const pipedZstd = await pipelined(c, startLsn, pipedBatches, 'zstd');
  process.stderr.write(`${NAME}: ${label}: raw write+fdatasync again\n`);
  const rawAfter = rawWriteFsync(rawPath, serialBatches);
  const raw = pooled(rawBefore, rawAfter);
  return { plan, rawBefore, rawAfter, raw, serial, piped, pipedZstd, zstd: measureZstd(redo, plan.bytes) };
}

// ---------------------------------------------------------------------------------------------
// Report

function sizeLabel(bytes: number): string {
  return bytes >= MIB ? `${bytes / MIB} MiB` : `${bytes / KIB} KiB`;
}

function ms(v: number): string {
  return v >= 100 ? `${v.toFixed(0)} ms` : v >= 10 ? `${v.toFixed(1)} ms` : `${v.toFixed(2)} ms`;
}

function rate(v: number): string {
  return `${v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2)} MiB/s`;
}

function lat(l: Latency): string {
  return `p50 ${ms(l.p50)}, p99 ${ms(l.p99)}`;
}

/** Throughput ratio, ours / baseline: above 1 the safekeepers are faster. */
function x(ours: number, base: number): string {
  return `${(ours / base).toFixed(2)}×`;
}

function reportLines(m: Measured): string[] {
  const p = NAME;
  const lines: string[] = [];
  for (const s of m.sizes) {
    const l = sizeLabel(s.plan.bytes);
    const raw = mibPerSec(s.raw);
    const piped = mibPerSec(s.piped);
    const goal = piped / raw >= 0.5 ? 'meets the ≥ 0.50× goal' : 'below the ≥ 0.50× goal';
    lines.push(`${p}: ${l} pipelined quorum append ${rate(piped)} vs raw write+fdatasync ${rate(raw)} → ${x(piped, raw)} of raw (${goal})`);
  }
  for (const s of m.sizes) {
    const l = sizeLabel(s.plan.bytes);
    const raw = mibPerSec(s.raw);
    lines.push(
      `${p}: ${l} one at a time: commit latency p50 ${ms(s.serial.latency.p50)} vs raw ${ms(s.raw.latency.p50)} → ${(s.serial.latency.p50 / s.raw.latency.p50).toFixed(2)}× raw's, ` +
        `p99 ${ms(s.serial.latency.p99)} vs ${ms(s.raw.latency.p99)} → ${(s.serial.latency.p99 / s.raw.latency.p99).toFixed(2)}×; ` +
        `throughput ${rate(mibPerSec(s.serial))} → ${x(mibPerSec(s.serial), raw)} of raw`,
    );
  }
  for (const s of m.sizes) {
    const l = sizeLabel(s.plan.bytes);
    lines.push(
      `${p}: ${l} pipelined with zstd ${rate(mibPerSec(s.pipedZstd))} vs without ${rate(mibPerSec(s.piped))} → ${x(mibPerSec(s.pipedZstd), mibPerSec(s.piped))}; ` +
        `vs raw ${x(mibPerSec(s.pipedZstd), mibPerSec(s.raw))}`,
    );
  }
  lines.push(`${p}: — absolute figures —`);
  for (const s of m.sizes) {
    const l = sizeLabel(s.plan.bytes);
    const perFlush = (ph: Phase): string => (ph.flushes !== undefined && ph.flushes > 0 ? `${((ph.batches * SAFEKEEPERS) / ph.flushes).toFixed(1)} batches per WAL flush` : 'no flush count');
    lines.push(
      `${p}: ${l} raw write+fdatasync: ${rate(mibPerSec(s.raw))}, ${lat(s.raw.latency)} (${count(s.raw.batches)} batches; ` +
        `before ${rate(mibPerSec(s.rawBefore))} ${ms(s.rawBefore.latency.p50)} p50, after ${rate(mibPerSec(s.rawAfter))} ${ms(s.rawAfter.latency.p50)} p50)`,
    );
    lines.push(`${p}: ${l} one at a time: ${rate(mibPerSec(s.serial))}, commit ${lat(s.serial.latency)}, max ${ms(s.serial.latency.max)} (${count(s.serial.batches)} batches, ${perFlush(s.serial)})`);
    lines.push(
      `${p}: ${l} pipelined: ${rate(mibPerSec(s.piped))}, ${count(perSecond(s.piped.batches, s.piped.ms))} batches/s; append → commit incl. queueing ${lat(s.piped.latency)} ` +
        `(${count(s.piped.batches)} batches, window ${count(Math.max(WINDOW_BATCHES_MIN, Math.floor(WINDOW_BYTES / s.plan.bytes)))}, ${perFlush(s.piped)})`,
    );
    const wire = s.pipedZstd.wireBytes !== undefined && s.pipedZstd.wireBytes > 0 ? `, ${(s.pipedZstd.bytes / s.pipedZstd.wireBytes).toFixed(2)}× fewer bytes on the wire` : '';
    lines.push(`${p}: ${l} pipelined with zstd: ${rate(mibPerSec(s.pipedZstd))}, append → commit incl. queueing ${lat(s.pipedZstd.latency)}${wire}`);
  }
  for (const s of m.sizes) {
    const z = s.zstd;
    lines.push(
      `${p}: zstd level ${DEFAULT_ZSTD_LEVEL} on real redo in ${sizeLabel(z.batchBytes)} batches: ratio ${(z.rawBytes / z.compressedBytes).toFixed(2)}, ` +
        `compress ${rate(perSecond(mib(z.rawBytes), z.compressMs))}, decompress ${rate(perSecond(mib(z.rawBytes), z.decompressMs))} (one thread)`,
    );
  }
  lines.push(`${p}: redo: ${mib(m.redoBytes).toFixed(1)} MiB, ${count(m.mtrs)} mtrs from the redo-apply workload (written in ${(m.workloadMs / 1000).toFixed(1)} s)`);
  lines.push(`${p}: machine: ${formatMachine(m.machine)}, ${m.loadAfter.toFixed(2)} at the end; ${SAFEKEEPERS} safekeepers and the baseline file on one disk`);
  return lines;
}

function toResults(m: Measured): unknown {
  const phase = (ph: Phase) => ({
    batches: ph.batches,
    bytes: ph.bytes,
    seconds: ph.ms / 1000,
    mibPerSec: mibPerSec(ph),
    latencyMs: ph.latency,
    ...(ph.wireBytes !== undefined ? { wireBytesPerSafekeeper: ph.wireBytes } : {}),
    ...(ph.flushes !== undefined ? { walFlushes: ph.flushes } : {}),
  });
  return {
    benchmark: NAME,
    date: new Date().toISOString(),
    command: m.opts.command,
    machine: { ...m.machine, loadAverageAtEnd: m.loadAfter },
    redo: { bytes: m.redoBytes, mtrs: m.mtrs },
    windowBytes: WINDOW_BYTES,
    sizes: m.sizes.map((s) => ({
      batchBytes: s.plan.bytes,
      ratios: {
        pipelinedVsRaw: mibPerSec(s.piped) / mibPerSec(s.raw),
        oneAtATimeVsRaw: mibPerSec(s.serial) / mibPerSec(s.raw),
        commitP50VsRawP50: s.serial.latency.p50 / s.raw.latency.p50,
        commitP99VsRawP99: s.serial.latency.p99 / s.raw.latency.p99,
        zstdPipelinedVsPlain: mibPerSec(s.pipedZstd) / mibPerSec(s.piped),
      },
      raw: phase(s.raw),
      rawBefore: phase(s.rawBefore),
      rawAfter: phase(s.rawAfter),
      oneAtATime: phase(s.serial),
      pipelined: phase(s.piped),
      pipelinedZstd: phase(s.pipedZstd),
      zstd: {
        ratio: s.zstd.rawBytes / s.zstd.compressedBytes,
        compressMibPerSec: perSecond(mib(s.zstd.rawBytes), s.zstd.compressMs),
        decompressMibPerSec: perSecond(mib(s.zstd.rawBytes), s.zstd.decompressMs),
      },
    })),
  };
}

function docsSection(m: Measured, lines: readonly string[]): string {
  const mc = m.machine;
  const rows = m.sizes.map((s) => {
    const raw = mibPerSec(s.raw);
    return (
      `| ${sizeLabel(s.plan.bytes)} | ${rate(raw)} | ${rate(mibPerSec(s.piped))} | **${x(mibPerSec(s.piped), raw)}** | ${rate(mibPerSec(s.pipedZstd))} | ` +
      `${ms(s.raw.latency.p50)} / ${ms(s.raw.latency.p99)} | ${ms(s.serial.latency.p50)} / ${ms(s.serial.latency.p99)} | ${(s.serial.latency.p50 / s.raw.latency.p50).toFixed(2)}× | ` +
      `${x(mibPerSec(s.serial), raw)} |`
    );
  });
  const zrows = m.sizes.map(
    (s) =>
      `| ${sizeLabel(s.zstd.batchBytes)} | ${(s.zstd.rawBytes / s.zstd.compressedBytes).toFixed(2)} | ${rate(perSecond(mib(s.zstd.rawBytes), s.zstd.compressMs))} | ` +
      `${rate(perSecond(mib(s.zstd.rawBytes), s.zstd.decompressMs))} |`,
  );
  return [
    `Latest full run: ${new Date().toISOString().slice(0, 10)}, \`${m.opts.command}\`, ${mib(m.redoBytes).toFixed(1)} MiB of real redo, ` +
      `on ${mc.cpus} × ${mc.cpuModel}, ${mc.memoryGiB} GiB RAM, Linux ${mc.kernel}, node ${mc.node} ` +
      `(load average ${mc.loadAverage.toFixed(2)} at start, ${m.loadAfter.toFixed(2)} at the end).`,
    '',
    '| batch | raw write+fdatasync | quorum, pipelined | pipelined / raw | pipelined, zstd | raw p50 / p99 | quorum one at a time p50 / p99 | p50 / raw p50 | one at a time / raw |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...rows,
    '',
    `| zstd level ${DEFAULT_ZSTD_LEVEL} on real redo, per batch | ratio | compress | decompress |`,
    '| --- | --- | --- | --- |',
    ...zrows,
    '',
    'Output of that run (`bench/results/safekeeper.json` has the same figures):',
    '',
    '```',
    ...lines,
    '```',
  ].join('\n');
}

async function recordResults(m: Measured, lines: readonly string[]): Promise<void> {
  await fs.mkdir(join(REPO_ROOT, 'bench/results'), { recursive: true });
  await fs.writeFile(RESULTS_JSON, JSON.stringify(toResults(m), null, 2) + '\n');
  replaceMarkedSection(DOCS_MD, 'safekeeper-results', docsSection(m, lines));
  process.stdout.write(`${NAME}: results written to bench/results/safekeeper.json and docs/benchmarks.md\n`);
}

// ---------------------------------------------------------------------------------------------

async function run(opts: BenchOptions): Promise<void> {
  const targetMiB = opts.sizeMb ?? DEFAULT_SIZE_MB;
  const machine = describeMachine();
  process.stderr.write(`${NAME}: generating ≥ ${targetMiB} MiB of redo on a private mariadbd (load average ${machine.loadAverage.toFixed(2)})\n`);
  const rec = await recordRedoWorkload(targetMiB * MIB, SERVER);
  let dir: string | undefined;
  let cluster: Cluster | undefined;
  try {
    const from = (await readLogCheckpoint(rec.base)).endLsn;
    const { bytes: redo, mtrs } = readRedo(join(rec.final, 'ib_logfile0'), from);
    if (redo.length < targetMiB * MIB) throw new Error(`read ${redo.length} bytes of redo, below the target ${targetMiB} MiB`);
    if (process.env['STRATA_KEEP_TEST_DIRS'] === undefined) await removeTempDir(rec.dir);
    dir = await makeTempDir('bench-safekeeper');
    process.stderr.write(`${NAME}: ${mib(redo.length).toFixed(1)} MiB of redo (${count(mtrs)} mtrs); starting ${SAFEKEEPERS} safekeepers\n`);
    cluster = await startCluster(dir);
    const factor = Math.min(1, targetMiB / DEFAULT_SIZE_MB);
    const sizes: SizeResult[] = [];
    for (const plan of PLANS) sizes.push(await measureSize(cluster, dir, redo, from, scaled(plan, factor)));
    await stopCluster(cluster);
    cluster = undefined;
    const m: Measured = { opts, machine, loadAfter: describeMachine().loadAverage, redoBytes: redo.length, mtrs, workloadMs: rec.workloadMs, sizes };
    const lines = reportLines(m);
    for (const line of lines) process.stdout.write(line + '\n');
    if (targetMiB >= RECORDED_SIZE_MB_MIN) await recordResults(m, lines);
    else process.stdout.write(`${NAME}: quick run (below ${RECORDED_SIZE_MB_MIN} MiB): results not recorded\n`);
  } finally {
    if (cluster) await stopCluster(cluster);
    if (process.env['STRATA_KEEP_TEST_DIRS'] === undefined) {
      await removeTempDir(rec.dir);
      if (dir !== undefined) await removeTempDir(dir);
    } else process.stderr.write(`${NAME}: STRATA_KEEP_TEST_DIRS is set: keeping ${rec.dir} and ${dir ?? '(no safekeeper dir)'}\n`);
  }
}

export const bench: Bench = {
  name: NAME,
  description: 'quorum append throughput and commit latency of three safekeepers vs raw write+fdatasync; zstd on real redo',
  run,
};
