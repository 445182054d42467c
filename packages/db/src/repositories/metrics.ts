import type { DbOrTx } from '../client.js';

export interface MetricSampleInput {
  clusterId: string;
  source: string;
  metric: string;
  labels: string;
  value: number;
  at: Date;
}

export interface SeriesPoint {
  source: string;
  labels: string;
  value: number;
  at: Date;
}

export const SERIES_POINTS_MAX = 10_000;

export async function insertSamples(db: DbOrTx, samples: MetricSampleInput[]): Promise<number> {
  if (samples.length === 0) return 0;
  return (await db.metricSample.createMany({ data: samples })).count;
}

export function querySeries(db: DbOrTx, query: { clusterId: string; metric: string; since: Date; limit?: number }): Promise<SeriesPoint[]> {
  return db.metricSample.findMany({
    where: { clusterId: query.clusterId, metric: query.metric, at: { gte: query.since } },
    select: { source: true, labels: true, value: true, at: true },
    orderBy: { at: 'asc' },
    take: Math.min(query.limit ?? SERIES_POINTS_MAX, SERIES_POINTS_MAX),
  });
}

export async function listMetricNames(db: DbOrTx, clusterId: string): Promise<string[]> {
  const rows = await db.metricSample.findMany({ where: { clusterId }, distinct: ['metric'], select: { metric: true }, orderBy: { metric: 'asc' } });
  return rows.map((r) => r.metric);
}

/**
 * Keeps the table bounded: drops samples older than `olderThan`, then the oldest beyond
 * `rowsMax` rows. Returns how many rows went.
 */
export async function pruneSamples(db: DbOrTx, bounds: { olderThan: Date; rowsMax: number }): Promise<number> {
  let removed = (await db.metricSample.deleteMany({ where: { at: { lt: bounds.olderThan } } })).count;
  const total = await db.metricSample.count();
  if (total > bounds.rowsMax) {
    // The id is monotonic with insertion: the n-th newest id is the cut.
    const cut = await db.metricSample.findMany({ select: { id: true }, orderBy: { id: 'desc' }, skip: bounds.rowsMax, take: 1 });
    const first = cut[0];
    if (first) removed += (await db.metricSample.deleteMany({ where: { id: { lte: first.id } } })).count;
  }
  return removed;
}
