/**
 * A compute's control endpoint (loopback): status, Prometheus metrics, the
 * shipper's LSN → time stamps, and a clean stop.
 */
import { Hono } from 'hono';
import { PROMETHEUS_CONTENT_TYPE } from '@strata/service-kit';
import type { Compute } from './compute.js';

export function createApp(compute: Compute, onStop: () => void) {
  return new Hono()
    .get('/v1/status', (c) => c.json(compute.status()))
    .get('/metrics', (c) => c.body(compute.metrics.render(), 200, { 'content-type': PROMETHEUS_CONTENT_TYPE }))
    .get('/v1/lsn-times', (c) => c.json({ stamps: compute.stamps().map((s) => ({ lsn: s.lsn.toString(), unixMs: s.unixMs })) }))
    .post('/v1/stop', (c) => {
      onStop();
      return c.json({ stopping: true }, 202);
    });
}

export type ComputeApp = ReturnType<typeof createApp>;
