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

export function cmdRedoApply(argv: string[]): number {
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
