#!/usr/bin/env node
/**
 * `strata`: the command line of a Strata cluster.
 */
import { parseArgs } from 'node:util';
import { StrataError } from '@strata/core';
import { redoDump } from './commands/redo-dump.js';
import { applyRedoToDatadir } from './datadir/replay-datadir.js';

const USAGE = `usage: strata <command>

  up                                   start a local cluster (not built yet)
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

function cmdUp(): number {
  process.stderr.write(
    'strata up: not built yet. The redo engine (strata redo dump / redo apply) works today;\n' +
      'safekeepers, page server, compute and console come with their issues.\n',
  );
  return 2;
}

export function main(argv: string[]): number {
  const [cmd, sub, ...rest] = argv;
  try {
    if (!cmd || cmd === 'help' || cmd === '--help' || cmd === '-h') {
      process.stdout.write(USAGE);
      return cmd ? 0 : 1;
    }
    if (cmd === 'up') return cmdUp();
    if (cmd === 'redo' && sub === 'dump') return cmdRedoDump(rest);
    if (cmd === 'redo' && sub === 'apply') return cmdRedoApply(rest);
    throw new UsageError(`unknown command: ${[cmd, sub].filter(Boolean).join(' ')}`);
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`strata: ${e.message}\n\n${USAGE}`);
      return 64;
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

process.exitCode = main(process.argv.slice(2));
