import { Hono } from 'hono';
import { authorize } from '@strata/service-kit';
import { POLICY } from '../auth.js';
import type { AppEnv, SafekeeperDeps } from '../deps.js';
import { holds } from '../membership/ledger.js';

export function statusRoutes(deps: SafekeeperDeps) {
  return new Hono<AppEnv>().get('/v1/status', (c) => {
    authorize(c.var.claims, POLICY.any);
    return c.json({
      nodeId: deps.nodeId,
      version: deps.version,
      timelines: deps.timelines.size,
      auth: deps.verifier ? deps.verifier.algorithm : 'none',
      remoteStorage: deps.remoteStorage?.description ?? null,
      // Timelines held here whose directories are gone: this node is a degraded member of each.
      lostTimelines: deps.ledger?.lost((t, tl) => holds(deps.timelines, t, tl)) ?? [],
    });
  });
}
