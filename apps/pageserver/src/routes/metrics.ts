import { Hono } from 'hono';
import { authorize, CollectedGauge, PROMETHEUS_CONTENT_TYPE } from '@strata/service-kit';
import type { AppEnv, PageserverDeps } from '../deps.js';
import { POLICY } from '../schemas.js';
import type { Timeline } from '../storage/index.js';

function labels(t: Timeline): Record<string, string> {
  return { tenant_id: t.tenantId, timeline_id: t.timelineId };
}

/** Prometheus text: the registry's metrics plus per-timeline gauges collected at scrape time. */
export function metricsRoutes(deps: PageserverDeps) {
  const perTimeline = (name: string, help: string, value: (t: Timeline) => bigint | number) =>
    new CollectedGauge(name, help, () => deps.tenants.all().map((t) => [labels(t), value(t)]));
  const gauges = [
    perTimeline('pageserver_last_record_lsn', 'End LSN of the last ingested mtr.', (t) => t.lastRecordLsn),
    perTimeline('pageserver_disk_consistent_lsn', 'Every change below this LSN is in a local layer file.', (t) => t.diskConsistentLsn),
    perTimeline('pageserver_open_layer_bytes', 'Bytes held in the in-memory layer.', (t) => t.openLayerBytes),
    new CollectedGauge('pageserver_layers', 'Layer files per timeline and kind (local tier).', () =>
      deps.tenants.all().flatMap((t) => (['image', 'delta'] as const).map((kind) => [{ ...labels(t), kind }, t.layers.filter((l) => l.kind === kind).length] as [Record<string, string>, number])),
    ),
    perTimeline('pageserver_layer_bytes', 'Bytes of layer files on local disk.', (t) => deps.tenants.layerBytes(t)),
  ];
  return new Hono<AppEnv>().get('/metrics', (c) => {
    authorize(c.var.claims, POLICY.operator);
    const text = deps.metrics.registry.render() + gauges.flatMap((g) => g.render()).join('\n') + '\n';
    return c.body(text, 200, { 'content-type': PROMETHEUS_CONTENT_TYPE });
  });
}
