/**
 * The branch tree laid out as a graph: one row per branch (a parent above its children, siblings by
 * branch point), each a span of LSNs from where its history starts to its head. Pure, so the layout
 * is tested without a browser.
 */

export interface GraphBranch {
  name: string;
  parent: string | null;
  /** The branch point on the parent; null for a root. */
  lsn: string | null;
  /** Where the timeline's own WAL starts (the page server's initLsn); null when unknown. */
  startLsn: string | null;
  lastRecordLsn: string | null;
}

export interface GraphRow {
  name: string;
  row: number;
  depth: number;
  /** The parent's row, for the edge drawn from the parent's line at the branch point. */
  parentRow: number | null;
  branchLsn: bigint | null;
  start: bigint;
  head: bigint;
  /** The head is unknown (page server down): drawn as a point at the start. */
  headKnown: boolean;
}

export interface GraphLayout {
  rows: GraphRow[];
  min: bigint;
  max: bigint;
}

const big = (s: string | null): bigint | null => (s === null ? null : BigInt(s));

/** Rows in depth-first order; a branch whose parent is missing from the list is drawn as a root. */
export function layoutBranchGraph(branches: readonly GraphBranch[]): GraphLayout {
  const names = new Set(branches.map((b) => b.name));
  const childrenOf = (parent: string | null) =>
    branches
      .filter((b) => (parent === null ? b.parent === null || !names.has(b.parent) : b.parent === parent))
      .toSorted((a, b) => {
        const la = big(a.lsn) ?? -1n;
        const lb = big(b.lsn) ?? -1n;
        return la === lb ? a.name.localeCompare(b.name) : la < lb ? -1 : 1;
      });
  const rows: GraphRow[] = [];
  // Bounded by the list: every branch is visited once (a cycle in bad data cannot loop).
  const seen = new Set<string>();
  const visit = (b: GraphBranch, depth: number, parentRow: number | null) => {
    if (seen.has(b.name)) return;
    seen.add(b.name);
    const branchLsn = big(b.lsn);
    const start = branchLsn ?? big(b.startLsn) ?? big(b.lastRecordLsn) ?? 0n;
    const head = big(b.lastRecordLsn);
    const row = rows.length;
    rows.push({ name: b.name, row, depth, parentRow, branchLsn, start, head: head !== null && head > start ? head : start, headKnown: head !== null });
    for (const c of childrenOf(b.name)) visit(c, depth + 1, row);
  };
  for (const root of childrenOf(null)) visit(root, 0, null);
  const lsns = rows.flatMap((r) => [r.start, r.head]);
  const min = lsns.length ? lsns.reduce((a, b) => (b < a ? b : a)) : 0n;
  const max = lsns.length ? lsns.reduce((a, b) => (b > a ? b : a)) : 0n;
  return { rows, min, max };
}

/** An LSN's place between min and max, 0…1 (the middle when every LSN is the same). */
export function lsnFraction(lsn: bigint, min: bigint, max: bigint): number {
  if (max <= min) return 0.5;
  return Number(lsn - min) / Number(max - min);
}
