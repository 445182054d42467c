#!/usr/bin/env node
/**
 * `strata`: the command line of a Strata cluster.
 */
import { parseArgs } from 'node:util';
import { StrataError } from '@strata/core';
import { redoDump } from './commands/redo-dump.js';
import { walPush, WalPushError } from './commands/wal-push.js';
import { walRead, WalReadError } from './commands/wal-read.js';
import { applyRedoToDatadir } from './datadir/replay-datadir.js';

const USAGE = `usage: strata <command>

  up                                   start a local cluster (not built yet)
  safekeeper --id N --listen H:P --data DIR [--remote-storage URL]
                                       run one safekeeper in the foreground
  wal push --safekeepers H:P,H:P,H:P --tenant T --timeline TL --log FILE [--from LSN]
                                       append a redo log's mtrs to the safekeeper quorum
  wal read --safekeeper H:P --tenant T --timeline TL --from LSN [--to LSN] --out FILE
                                       write committed redo bytes of a range to a file
  redo dump <ib_logfile0> [--from LSN] [--json] [--page-size N]
                                       print every mini-transaction of a redo log
  redo apply --base DIR --log FILE --out DIR [--until-lsn N] [--aux-from DIR]
                                       replay a redo log onto a copy of a datadir
`;

class UsageError extends Error {}

function parseLsn(v: string | undefined, flag: string): bigint | undefined {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v)) throw new UsageError(`${flag} takes a decimal LSN, got "${v}"`);
  return BigInt(v);
}

function out(line: string): void {
  process.stdout.write(line + '\n');
}

function cmdRedoDump(argv: string[]): number {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { from: { type: 'string' }, json: { type: 'boolean', default: false }, 'page-size': { type: 'string' } },
  });
  const logPath = positionals[0];
  if (!logPath || positionals.length > 1) throw new UsageError('redo dump takes exactly one log file');
  const fromLsn = parseLsn(values.from, '--from');
  redoDump({ logPath, json: values.json ?? false, pageSize: Number(values['page-size'] ?? 16384), ...(fromLsn !== undefined ? { fromLsn } : {}) }, out);
  return 0;
}

function cmdRedoApply(argv: string[]): number {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      base: { type: 'string' },
      log: { type: 'string' },
      out: { type: 'string' },
      'until-lsn': { type: 'string' },
      'aux-from': { type: 'string' },
    },
  });
  if (positionals.length) throw new UsageError(`unexpected argument ${positionals[0]}`);
  if (!values.base || !values.log || !values.out) throw new UsageError('redo apply needs --base, --log and --out');
  const untilLsn = parseLsn(values['until-lsn'], '--until-lsn');
  const t0 = performance.now();
  const result = applyRedoToDatadir({
    baseDir: values.base,
    logPath: values.log,
    outDir: values.out,
    ...(untilLsn !== undefined ? { untilLsn } : {}),
    ...(values['aux-from'] ? { auxFrom: values['aux-from'] } : {}),
    onProgress: (p) => {
      const total = p.endLsnHint > p.startLsn ? Number(p.endLsnHint - p.startLsn) : 0;
      const done = Number(p.lsn - p.startLsn);
      const pct = total > 0 ? ` (${Math.min(100, (100 * done) / total).toFixed(0)}%)` : '';
      process.stderr.write(`progress: LSN ${p.lsn}, ${(done / 1048576).toFixed(1)} MiB of redo${pct}, ${p.mtrs} mtrs, ${p.records} records\n`);
    },
  });
  const secs = (performance.now() - t0) / 1000;
  out(`applied ${result.mtrs} mtrs, ${result.records} records, ${result.redoBytes} bytes of redo from LSN ${result.startLsn} in ${secs.toFixed(2)} s`);
  out(`pages written ${result.pagesWritten}, freed ${result.pagesFreed}; tablespaces created ${result.spacesCreated}, renamed ${result.spacesRenamed}, deleted ${result.spacesDeleted}; undo truncations ${result.undoTruncations}`);
  out(`final LSN ${result.endLsn}`);
  return 0;
}

const HEX_ID = /^[0-9a-f]{32}$/;

function hexId(v: string | undefined, flag: string): string {
  if (!v) throw new UsageError(`${flag} is required`);
  if (!HEX_ID.test(v)) throw new UsageError(`${flag} must be 32 lowercase hex digits, got "${v}"`);
  return v;
}

function token(): string | undefined {
  return process.env['STRATA_TOKEN'] || undefined;
}

async function cmdWalPush(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { safekeepers: { type: 'string' }, tenant: { type: 'string' }, timeline: { type: 'string' }, log: { type: 'string' }, from: { type: 'string' } },
  });
  if (positionals.length) throw new UsageError(`unexpected argument ${positionals[0]}`);
  if (!values.safekeepers || !values.log) throw new UsageError('wal push needs --safekeepers, --tenant, --timeline and --log');
  const fromLsn = parseLsn(values.from, '--from');
  const committed = await walPush({
    safekeepers: values.safekeepers,
    tenantId: hexId(values.tenant, '--tenant'),
    timelineId: hexId(values.timeline, '--timeline'),
    logPath: values.log,
    ...(fromLsn !== undefined ? { fromLsn } : {}),
    ...(token() ? { token: token()! } : {}),
    log: (line) => process.stderr.write(line + '\n'),
  });
  out(`committed ${committed}`);
  return 0;
}

async function cmdWalRead(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { safekeeper: { type: 'string' }, tenant: { type: 'string' }, timeline: { type: 'string' }, from: { type: 'string' }, to: { type: 'string' }, out: { type: 'string' } },
  });
  if (positionals.length) throw new UsageError(`unexpected argument ${positionals[0]}`);
  const fromLsn = parseLsn(values.from, '--from');
  if (!values.safekeeper || fromLsn === undefined || !values.out) throw new UsageError('wal read needs --safekeeper, --tenant, --timeline, --from and --out');
  const toLsn = parseLsn(values.to, '--to');
  const end = await walRead({
    safekeeper: values.safekeeper,
    tenantId: hexId(values.tenant, '--tenant'),
    timelineId: hexId(values.timeline, '--timeline'),
    fromLsn,
    ...(toLsn !== undefined ? { toLsn } : {}),
    outPath: values.out,
    ...(token() ? { token: token()! } : {}),
  });
  out(`wrote ${end - fromLsn} bytes of redo ${fromLsn}..${end} to ${values.out}`);
  return 0;
}

async function cmdSafekeeper(argv: string[]): Promise<number> {
  const { main: safekeeperMain } = await import('@strata/safekeeper/main');
  return safekeeperMain(argv);
}

function cmdUp(): number {
  process.stderr.write(
    'strata up: not built yet. The redo engine (strata redo dump / redo apply) works today;\n' +
      'safekeepers, page server, compute and console come with their issues.\n',
  );
  return 2;
}

export async function main(argv: string[]): Promise<number> {
  const [cmd, sub, ...rest] = argv;
  try {
    if (!cmd || cmd === 'help' || cmd === '--help' || cmd === '-h') {
      process.stdout.write(USAGE);
      return cmd ? 0 : 1;
    }
    if (cmd === 'up') return cmdUp();
    if (cmd === 'redo' && sub === 'dump') return cmdRedoDump(rest);
    if (cmd === 'redo' && sub === 'apply') return cmdRedoApply(rest);
    if (cmd === 'safekeeper') return await cmdSafekeeper(argv.slice(1));
    if (cmd === 'wal' && sub === 'push') return await cmdWalPush(rest);
    if (cmd === 'wal' && sub === 'read') return await cmdWalRead(rest);
    throw new UsageError(`unknown command: ${[cmd, sub].filter(Boolean).join(' ')}`);
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`strata: ${e.message}\n\n${USAGE}`);
      return 64;
    }
    if (e instanceof WalPushError || e instanceof WalReadError) {
      process.stderr.write(`strata: ${e.message}\n`);
      return 1;
    }
    if (e instanceof StrataError) {
      process.stderr.write(`strata: ${e.code}: ${e.message}\n`);
      return 1;
    }
    if (e instanceof Error && 'code' in e && typeof e.code === 'string' && e.code.startsWith('E')) {
      process.stderr.write(`strata: ${e.message}\n`);
      return 1;
    }
    throw e;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`strata: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exitCode = 1;
  },
);
