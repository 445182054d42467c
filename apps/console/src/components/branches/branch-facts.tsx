'use client';
import Link from 'next/link';
import { LocalTime } from '../local-time';
import { bytes, Lsn } from '../ui';

export interface BranchFactsData {
  name: string;
  timelineId: string;
  parent: string | null;
  lsn: string | null;
  createdAt: string;
  startLsn: string | null;
  lastRecordLsn: string | null;
  layerBytes: number | null;
  children: string[];
  timeline: { diskConsistentLsn: string; remoteConsistentLsn: string | null; layers: number; openLayerBytes: number; walReceiver: string | null } | null;
  timelineError: string | null;
}

/** `a − b` of two decimal LSNs as bytes of WAL, or null when either is unknown. */
export function lsnDistance(a: string | null | undefined, b: string | null | undefined): number | null {
  if (a === null || a === undefined || b === null || b === undefined) return null;
  const d = BigInt(a) - BigInt(b);
  return Number(d > 0n ? d : 0n);
}

const walBytes = (n: number | null) => (n === null ? '—' : `${bytes(n)} of WAL (${n.toLocaleString('en-US')} bytes)`);

/** What a branch is: where it starts and ends (LSN and time), where it came from, how far it moved since. */
export function BranchFacts({ b, parentHead }: { b: BranchFactsData; parentHead: string | null }) {
  const own = lsnDistance(b.lastRecordLsn, b.lsn ?? b.startLsn);
  const parentMoved = b.parent ? lsnDistance(parentHead, b.lsn) : null;
  return (
    <dl className="kv" data-testid="branch-facts">
      <dt>Timeline</dt>
      <dd className="mono">{b.timelineId}</dd>
      <dt>Parent</dt>
      <dd data-testid="branch-parent">{b.parent ? <><Link href={`/branches/${encodeURIComponent(b.parent)}`}>{b.parent}</Link> at LSN <Lsn value={b.lsn} /></> : 'none (a root branch)'}</dd>
      <dt>LSN range</dt>
      <dd data-testid="branch-lsn-range"><Lsn value={b.lsn ?? b.startLsn} /> – <Lsn value={b.lastRecordLsn} /> (head)</dd>
      <dt>Time range</dt>
      <dd data-testid="branch-time-range">from <LocalTime iso={b.createdAt} /> ({b.parent ? 'branched' : 'created'}) to now</dd>
      <dt>Changes since {b.parent ? 'its parent' : 'its start'}</dt>
      <dd data-testid="branch-changes">{walBytes(own)}</dd>
      {b.parent ? (
        <>
          <dt>{b.parent} since</dt>
          <dd data-testid="parent-changes">{walBytes(parentMoved)}</dd>
        </>
      ) : null}
      <dt>Size</dt>
      <dd>{bytes(b.layerBytes)}{b.timeline ? ` in ${b.timeline.layers} layers, ${bytes(b.timeline.openLayerBytes)} not yet in a layer` : ''}</dd>
      <dt>On disk / remote</dt>
      <dd>{b.timeline ? <><Lsn value={b.timeline.diskConsistentLsn} /> / <Lsn value={b.timeline.remoteConsistentLsn} /></> : '—'}</dd>
      <dt>Children</dt>
      <dd data-testid="branch-children">
        {b.children.length === 0 ? 'none' : b.children.map((c, i) => <span key={c}>{i ? ', ' : ''}<Link href={`/branches/${encodeURIComponent(c)}`}>{c}</Link></span>)}
      </dd>
    </dl>
  );
}
