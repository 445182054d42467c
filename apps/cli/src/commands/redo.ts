/** `strata redo dump|apply`: the redo engine on local files. */
import { parseArgs } from 'node:util';
import { applyRedoToDatadir } from '../datadir/replay-datadir.js';
import { out, parseLsn, UsageError } from '../usage.js';
import { redoDump } from './redo-dump.js';

export function cmdRedoDump(argv: string[]): number {
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

export async function cmdRedoApply(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      base: { type: 'string' },
      log: { type: 'string' },
      out: { type: 'string' },
      'until-lsn': { type: 'string' },
      'aux-from': { type: 'string' },
      jobs: { type: 'string' },
      'page-cache-mib': { type: 'string' },
    },
  });
  if (positionals.length) throw new UsageError(`unexpected argument ${positionals[0]}`);
  if (!values.base || !values.log || !values.out) throw new UsageError('redo apply needs --base, --log and --out');
  const untilLsn = parseLsn(values['until-lsn'], '--until-lsn');
  const jobs = values.jobs === undefined ? undefined : Number(values.jobs);
  if (jobs !== undefined && !(Number.isInteger(jobs) && jobs >= 1 && jobs <= 64)) throw new UsageError(`--jobs takes a thread count from 1 to 64, got "${values.jobs}"`);
  const cacheMib = values['page-cache-mib'] === undefined ? undefined : Number(values['page-cache-mib']);
  if (cacheMib !== undefined && !(cacheMib > 0 && cacheMib <= 1 << 20)) throw new UsageError(`--page-cache-mib takes a positive size in MiB, got "${values['page-cache-mib']}"`);
  const t0 = performance.now();
  const result = await applyRedoToDatadir({
    baseDir: values.base,
    logPath: values.log,
    outDir: values.out,
    ...(untilLsn !== undefined ? { untilLsn } : {}),
    ...(values['aux-from'] ? { auxFrom: values['aux-from'] } : {}),
    jobs,
    pageCacheBytesMax: cacheMib === undefined ? undefined : Math.floor(cacheMib * 1024 * 1024),
    onFirstPassProgress: (p) => {
      process.stderr.write(`first pass: LSN ${p.lsn}, ${redoDone(p)}\n`);
    },
    onProgress: (p) => {
      process.stderr.write(`progress: LSN ${p.lsn}, ${redoDone(p)}, ${p.mtrs} mtrs, ${p.records} records\n`);
    },
  });
  const secs = (performance.now() - t0) / 1000;
  out(`applied ${result.mtrs} mtrs, ${result.records} records, ${result.redoBytes} bytes of redo from LSN ${result.startLsn} in ${secs.toFixed(2)} s`);
  out(`pages written ${result.pagesWritten}, freed ${result.pagesFreed}; records superseded by a later init or free of their page ${result.recordsSuperseded}; tablespaces created ${result.spacesCreated}, renamed ${result.spacesRenamed}, deleted ${result.spacesDeleted}; undo truncations ${result.undoTruncations}`);
  out(`final LSN ${result.endLsn}`);
  process.stderr.write(`replayed on ${result.jobs} thread${result.jobs === 1 ? '' : 's'}\n`);
  return 0;
}

/** "N MiB of redo (P%)" of a progress report. */
function redoDone(p: { lsn: bigint; startLsn: bigint; endLsnHint: bigint }): string {
  const total = p.endLsnHint > p.startLsn ? Number(p.endLsnHint - p.startLsn) : 0;
  const done = Number(p.lsn - p.startLsn);
  const pct = total > 0 ? ` (${Math.min(100, (100 * done) / total).toFixed(0)}%)` : '';
  return `${(done / 1048576).toFixed(1)} MiB of redo${pct}`;
}
