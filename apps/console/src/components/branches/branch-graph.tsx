'use client';
import { useRouter } from 'next/navigation';
import { layoutBranchGraph, lsnFraction, type GraphBranch, type GraphRow } from '../../lib/branch-graph';
import { useWidth } from '../use-width';

const ROW_PX = 40;
const PAD_X = 12;
const AXIS_PX = 22;

/**
 * The branch tree as a graph: each branch a line along the LSN axis from where its history starts to
 * its head, and each child joined to its parent's line at the LSN it branched at. Names link to the
 * branch's page.
 */
export function BranchGraph({ branches, current }: { branches: readonly GraphBranch[]; current?: string }) {
  const router = useRouter();
  const { ref, width } = useWidth<HTMLDivElement>(720);
  const layout = layoutBranchGraph(branches);
  const inner = Math.max(40, width - 2 * PAD_X);
  const x = (lsn: bigint) => PAD_X + lsnFraction(lsn, layout.min, layout.max) * inner;
  const lineY = (row: number) => row * ROW_PX + 28;
  const height = layout.rows.length * ROW_PX + AXIS_PX + 8;
  const open = (name: string) => router.push(`/branches/${encodeURIComponent(name)}`);
  return (
    <div ref={ref} className="card graph" data-testid="branch-graph">
      <svg width={width - 2} height={height} role="img" aria-label="Branch graph: each branch along the LSN axis, children joined to their parent at the branch point">
        {layout.rows.map((r) => (r.parentRow === null || r.branchLsn === null ? null : <Edge key={`e-${r.name}`} row={r} parent={layout.rows[r.parentRow]!} x={x} lineY={lineY} />))}
        {layout.rows.map((r) => (
          <a
            key={r.name}
            href={`/branches/${encodeURIComponent(r.name)}`}
            data-testid={`graph-branch-${r.name}`}
            onClick={(e) => {
              // A client-side move, like the navigation's links.
              e.preventDefault();
              open(r.name);
            }}
          >
            <title>{`${r.name}: LSN ${r.start} – ${r.headKnown ? r.head : 'head unknown'}`}</title>
            <line className={`graph-line${r.name === current ? ' current' : ''}`} x1={x(r.start)} x2={Math.max(x(r.head), x(r.start) + 3)} y1={lineY(r.row)} y2={lineY(r.row)} />
            <circle className="graph-head" cx={x(r.head)} cy={lineY(r.row)} r={4} />
            <Label row={r} x={x} y={lineY(r.row) - 9} width={width} current={r.name === current} />
          </a>
        ))}
        <text className="graph-axis" x={PAD_X} y={height - 8}>LSN {layout.min.toString()}</text>
        <text className="graph-axis" x={width - PAD_X} y={height - 8} textAnchor="end">{layout.max.toString()}</text>
      </svg>
    </div>
  );
}

/** From the parent's line at the branch point down to the child's line. */
function Edge({ row, parent, x, lineY }: { row: GraphRow; parent: GraphRow; x: (l: bigint) => number; lineY: (r: number) => number }) {
  const bx = x(row.branchLsn!);
  return (
    <g data-testid={`graph-edge-${parent.name}-${row.name}`} data-lsn={row.branchLsn!.toString()}>
      <path className="graph-edge" d={`M ${bx} ${lineY(parent.row)} L ${bx} ${lineY(row.row)}`} />
      <circle className="graph-branch-point" cx={bx} cy={lineY(parent.row)} r={3.5} />
    </g>
  );
}

/** The name above the line, kept inside the drawing: right-aligned when the line starts on the right half. */
function Label({ row, x, y, width, current }: { row: GraphRow; x: (l: bigint) => number; y: number; width: number; current: boolean }) {
  const sx = x(row.start);
  const right = sx > width / 2;
  return (
    <text className={`graph-label${current ? ' current' : ''}`} x={right ? Math.min(x(row.head), width - PAD_X) : sx} y={y} textAnchor={right ? 'end' : 'start'}>
      {row.name}
      {row.branchLsn !== null ? ` @ ${row.branchLsn}` : ''}
    </text>
  );
}
