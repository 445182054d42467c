import { redo } from '@strata/core';
import { openLogFile } from '@strata/datadir';

export interface RedoDumpArgs {
  readonly logPath: string;
  readonly fromLsn?: bigint;
  readonly json: boolean;
  readonly pageSize: number;
}

type Write = (line: string) => void;

function recordJson(r: redo.RedoRecord): Record<string, unknown> {
  const base: Record<string, unknown> = { type: redo.recordTypeName(r), payloadLength: redo.recordPayloadLength(r) };
  if (redo.isPageRecord(r)) {
    base.spaceId = r.spaceId;
    base.pageNo = r.pageNo;
    if ('offset' in r) base.offset = r.offset;
    if (r.type === 'MEMMOVE') base.source = r.source;
  } else if (r.type === 'FILE_CHECKPOINT') {
    base.checkpointLsn = r.checkpointLsn.toString();
  } else {
    base.spaceId = r.spaceId;
    base.path = r.path;
    if (r.type === 'FILE_RENAME') base.newPath = r.newPath;
  }
  return base;
}

function recordText(r: redo.RedoRecord): string {
  const name = redo.recordTypeName(r).padEnd(36);
  const len = redo.recordPayloadLength(r);
  if (redo.isPageRecord(r)) {
    const where = 'offset' in r ? ` offset ${r.offset}` : '';
    return `  ${name} space ${r.spaceId} page ${r.pageNo}${where} len ${len}`;
  }
  if (r.type === 'FILE_CHECKPOINT') return `  ${name} lsn ${r.checkpointLsn}`;
  if (r.type === 'FILE_RENAME') return `  ${name} space ${r.spaceId} ${r.path} -> ${r.newPath}`;
  return `  ${name} space ${r.spaceId} ${r.path}`;
}

/** Print every mtr from the checkpoint (or --from) to the end of the log. Returns the mtr count. */
export function redoDump(args: RedoDumpArgs, write: Write): number {
  const reader = openLogFile(args.logPath);
  try {
    const h = reader.head;
    const from = args.fromLsn ?? h.checkpoint.endLsn;
    if (!args.json) {
      write(`log ${args.logPath}: format 0x${h.header.format.toString(16)} creator "${h.header.creator}" size ${h.fileSize} first_lsn ${h.header.firstLsn}`);
      write(`checkpoint ${h.checkpoint.checkpointLsn} end_lsn ${h.checkpoint.endLsn} (block at ${h.checkpoint.blockOffset})`);
    }
    const it = reader.mtrs(from, args.pageSize);
    let count = 0;
    for (;;) {
      const step = it.next();
      if (step.done) {
        if (args.json) write(JSON.stringify({ end: { lsn: step.value.endLsn.toString(), reason: step.value.reason, mtrs: count } }));
        else write(`end of log at ${step.value.endLsn} (${step.value.reason}); ${count} mtrs`);
        return count;
      }
      const m = step.value;
      count++;
      if (args.json) {
        write(JSON.stringify({ startLsn: m.startLsn.toString(), endLsn: m.endLsn.toString(), length: m.bytes.length, records: m.records.map(recordJson) }));
      } else {
        write(`mtr ${m.startLsn}..${m.endLsn} len ${m.bytes.length} records ${m.records.length}`);
        for (const r of m.records) write(recordText(r));
      }
    }
  } finally {
    reader.close();
  }
}
