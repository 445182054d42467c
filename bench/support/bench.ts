/**
 * What every benchmark shares: the contract `bench/run.ts` drives, the machine description
 * printed with every result, and number formatting. A benchmark prints one line per metric,
 * ratio against its in-run baseline first (shared/docs/style.md, "bench/").
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import * as os from 'node:os';
import { MARIADBD_PATH } from '../../test/support/mariadb.js';

export interface BenchOptions {
  /** `--size-mb N`: the amount of work, in MiB of whatever the benchmark generates. */
  readonly sizeMb: number | undefined;
  /** `--minutes N`: how long a timed workload runs (soak). */
  readonly minutes: number | undefined;
  /** `--rows N`: rows of a bulk load (soak). */
  readonly rows: number | undefined;
  /** The command line that ran the benchmark, for the results file and docs. */
  readonly command: string;
}

export interface Bench {
  readonly name: string;
  readonly description: string;
  run(opts: BenchOptions): Promise<void>;
}

export function isBench(value: unknown): value is Bench {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return typeof v['name'] === 'string' && typeof v['description'] === 'string' && typeof v['run'] === 'function';
}

// ---------------------------------------------------------------------------------------------
// Machine

export interface Machine {
  readonly cpus: number;
  readonly cpuModel: string;
  readonly memoryGiB: number;
  readonly node: string;
  readonly mariadbd: string;
  readonly kernel: string;
  /** 1-minute load average when the benchmark started: other work on the machine skews results. */
  readonly loadAverage: number;
}

function cpuModel(): string {
  try {
    const line = readFileSync('/proc/cpuinfo', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('model name'));
    if (line !== undefined) return line.slice(line.indexOf(':') + 1).trim();
  } catch {
    // Not Linux: fall through to what node knows.
  }
  return os.cpus()[0]?.model ?? 'unknown';
}

function usableCpus(): number {
  // `nproc` honours CPU affinity and cgroup limits; os.cpus() lists every CPU of the host.
  try {
    return Number(execFileSync('nproc', { encoding: 'utf8' }).trim());
  } catch {
    return os.availableParallelism();
  }
}

function mariadbdVersion(): string {
  const out = execFileSync(MARIADBD_PATH, ['--version'], { encoding: 'utf8' });
  const match = /Ver\s+(\S+)/.exec(out);
  return match?.[1] ?? out.trim();
}

export function describeMachine(): Machine {
  return {
    cpus: usableCpus(),
    cpuModel: cpuModel(),
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    mariadbd: mariadbdVersion(),
    kernel: os.release(),
    loadAverage: os.loadavg()[0] ?? 0,
  };
}

export function formatMachine(m: Machine): string {
  return (
    `${m.cpus} × ${m.cpuModel}, ${m.memoryGiB} GiB RAM, Linux ${m.kernel}, node ${m.node}, ` +
    `mariadbd ${m.mariadbd}, load average ${m.loadAverage.toFixed(2)} at start`
  );
}

// ---------------------------------------------------------------------------------------------
// Formatting

export const MIB = 1024 * 1024;

export function mib(bytes: number | bigint): number {
  return Number(bytes) / MIB;
}

/** 12,345,678 */
export function count(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

export function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(2)} s`;
}

/** A per-second rate of `amount` over `ms`, rounded for reading. */
export function perSecond(amount: number, ms: number): number {
  return ms > 0 ? (amount * 1000) / ms : 0;
}

/**
 * `Strata X vs MariaDB Y → R× (who is faster)`. Both are durations, so the ratio is
 * baseline / ours: above 1 means Strata is faster.
 */
export function ratioLine(prefix: string, ours: string, oursMs: number, theirs: string, theirsMs: number): string {
  const head = `${prefix}: ${ours} ${seconds(oursMs)} vs ${theirs} ${seconds(theirsMs)}`;
  // A baseline computed as a difference of two starts can drown in their noise on tiny runs.
  if (!(theirsMs > 0) || !(oursMs > 0)) return `${head} → no ratio (below measurement noise)`;
  const ratio = theirsMs / oursMs;
  const who = ratio >= 1 ? 'Strata faster' : 'MariaDB faster';
  return `${head} → ${ratio.toFixed(2)}× (${who})`;
}
