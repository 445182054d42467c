/**
 * Mutations of a local cluster go through its CLI (`<repo>/strata` with
 * STRATA_HOME), so cluster.json stays the one registry of names. Each
 * command's output line is parsed exactly; anything else is a CLI_FAILED
 * error carrying the CLI's own message.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { lsnDecimal } from '@strata/core/json';
import type { ConsoleDeps } from '../deps';
import { ConsoleError } from './errors';

export interface CliResult {
  stdout: string;
  stderr: string;
}

const OUTPUT_BYTES_MAX = 1 << 20;

export function runCli(
  deps: Pick<ConsoleDeps, 'home' | 'repoRoot'>,
  args: string[],
  options: { timeoutMs?: number; env?: Record<string, string>; onLine?: (line: string) => void } = {},
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(join(deps.repoRoot, 'strata'), args, {
      cwd: deps.repoRoot,
      env: { ...process.env, STRATA_HOME: deps.home, ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let pending = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      if (stdout.length < OUTPUT_BYTES_MAX) stdout += d;
      if (options.onLine) {
        pending += d;
        const lines = pending.split('\n');
        pending = lines.pop() ?? '';
        for (const l of lines) if (l.trim()) options.onLine(l);
      }
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      if (stderr.length < OUTPUT_BYTES_MAX) stderr += d;
      // The CLI logs progress on stderr too ("[up] …", membership phases).
      if (options.onLine) for (const l of d.split('\n')) if (l.trim()) options.onLine(l);
    });
    const timer = setTimeout(() => child.kill('SIGTERM'), options.timeoutMs ?? 300_000);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(new ConsoleError('CLI_FAILED', `strata ${args.slice(0, 2).join(' ')}: ${e.message}`, { service: `strata ${args.slice(0, 2).join(' ')}` }));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (pending.trim() && options.onLine) options.onLine(pending);
      if (code === 0) return resolve({ stdout, stderr });
      const why = stderr.trim().split('\n').filter(Boolean).slice(-3).join(' ') || stdout.trim().split('\n').slice(-1)[0] || `exit ${code ?? signal}`;
      reject(new ConsoleError('CLI_FAILED', `strata ${args.slice(0, 2).join(' ')}: ${why.replace(/^strata: (error: )?/, '')}`, { service: `strata ${args.slice(0, 2).join(' ')}` }));
    });
  });
}

const unexpectedOutput = (stdout: string, what: string) => new ConsoleError('CLI_FAILED', `strata ${what}: unexpected output ${JSON.stringify(stdout.slice(0, 300))}`, { service: `strata ${what}` });

/** The one line of `stdout` that matches, or a CLI_FAILED error quoting what came instead. */
export function parseLine<T>(stdout: string, pattern: RegExp, build: (m: RegExpMatchArray) => T, what: string): T {
  for (const line of stdout.split('\n')) {
    const m = line.trim().match(pattern);
    if (m) return build(m);
  }
  throw unexpectedOutput(stdout, what);
}

export const BRANCH_LINE = /^branch (\S+) timeline ([0-9a-f]{32}) lsn (\S+)$/;
export const COMPUTE_LINE = /^compute (\S+) (mysql:\/\/\S+)$/;
export const SNAPSHOT_LINE = /^snapshot (\S+) branch (\S+) lsn (\S+)$/;

/** A line's LSN through the one LSN schema (decimal, below 2^64): anything else is output the console does not understand. */
function lineLsn(v: string | undefined, stdout: string, what: string): string {
  const r = lsnDecimal.safeParse(v);
  if (!r.success) throw unexpectedOutput(stdout, what);
  return r.data;
}

export const parseBranchLine = (stdout: string, what: string) =>
  parseLine(stdout, BRANCH_LINE, (m) => ({ name: m[1]!, timelineId: m[2]!, lsn: lineLsn(m[3], stdout, what) }), what);
export const parseComputeLine = (stdout: string, what: string) =>
  parseLine(stdout, COMPUTE_LINE, (m) => ({ name: m[1]!, connectionUrl: m[2]! }), what);
export const parseSnapshotLine = (stdout: string, what: string) =>
  parseLine(stdout, SNAPSHOT_LINE, (m) => ({ name: m[1]!, branch: m[2]!, lsn: lineLsn(m[3], stdout, what) }), what);
