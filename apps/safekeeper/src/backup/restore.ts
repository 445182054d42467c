/**
 * Lost-disk recovery, the backup half. A safekeeper that lost its disk gets
 * a timeline back with `POST .../pull {from: peer}` (routes/pull.ts): the
 * peer's consensus state and WAL. The peer may no longer hold the oldest WAL
 * (removed once backed up and persisted by the page server); that prefix
 * comes from the WAL backup here, the rest from the peer.
 *
 * The backed-up bytes are committed WAL, the same on every safekeeper (log
 * safety), so splicing them in front of the peer's WAL builds the log the
 * peer had. Each segment is checked on the way in (zstd checksum and exact
 * length, remote-layout.ts `downloadSegment`).
 *
 * A safekeeper that kept its disk but lags (it was down while a proposer
 * ran) needs neither: peer recovery (src/peer-recovery.ts, `--peers`) copies
 * the WAL it misses from a peer with the same term history once no proposer
 * is talking to it, so a long-idle timeline does not stay on two copies
 * until the next election.
 */
import type { RemoteStorage } from '@strata/remote-storage';
import { PullConflict } from '../errors.js';
import type { Timeline } from '../storage/timeline.js';
import { downloadSegment, listBackedUpSegments, readIndex, segmentEnd } from './remote-layout.js';

/** The WAL backup cannot supply what a pull needs (409, like any pull that cannot complete). */
export class BackupUnavailable extends PullConflict {
  constructor(timeline: Timeline, lsn: bigint, reason: string) {
    super(timeline.tenantId, timeline.timelineId, `WAL backup at LSN ${lsn}: ${reason}`);
    this.name = 'BackupUnavailable';
  }
}

/**
 * Appends the backed-up WAL from `timeline`'s end up to `to` (a staging
 * timeline being filled from its start). Returns `to`.
 */
export async function appendFromBackup(storage: RemoteStorage, timeline: Timeline, to: bigint): Promise<bigint> {
  const index = await readIndex(storage, timeline.tenantId, timeline.timelineId);
  let at = timeline.flushLsn;
  if (!index) throw new BackupUnavailable(timeline, at, `no backup of ${timeline.tenantId}/${timeline.timelineId} in ${storage.description}`);
  if (index.timelineStartLsn !== timeline.control.timelineStartLsn) {
    throw new BackupUnavailable(timeline, at, `the backup is of a timeline starting at ${index.timelineStartLsn}, not ${timeline.control.timelineStartLsn}`);
  }
  if (index.backupLsn < to) throw new BackupUnavailable(timeline, to, `backed up only up to ${index.backupLsn}`);
  const starts = await listBackedUpSegments(storage, timeline.tenantId, timeline.timelineId);
  // One segment per pass; every pass raises `at` or throws.
  for (const start of starts) {
    if (at >= to) break;
    const end = segmentEnd(start, index.segmentBytes);
    if (end <= at) continue;
    if (start > at) throw new BackupUnavailable(timeline, at, `no backed-up segment holds LSN ${at} (next one starts at ${start})`);
    const bytes = await downloadSegment(storage, index, start);
    const upTo = end < to ? end : to;
    await timeline.appendWal(at, bytes.subarray(Number(at - start), Number(upTo - start)));
    at = upTo;
  }
  if (at < to) throw new BackupUnavailable(timeline, at, `the backed-up segments end at ${at}, before ${to}`);
  return at;
}
