import { router } from '../trpc';
import { branchesRouter } from './branches';
import { computesRouter } from './computes';
import { metricsRouter } from './metrics';
import { operationsRouter } from './operations';
import { operatorsRouter } from './operators';
import { overviewRouter } from './overview';
import { pageserversRouter } from './pageservers';
import { safekeepersRouter } from './safekeepers';
import { snapshotsRouter } from './snapshots';
import { tenantsRouter } from './tenants';
import { timeTravelRouter } from './timetravel';

export const appRouter = router({
  overview: overviewRouter,
  tenants: tenantsRouter,
  branches: branchesRouter,
  snapshots: snapshotsRouter,
  computes: computesRouter,
  timeTravel: timeTravelRouter,
  safekeepers: safekeepersRouter,
  pageservers: pageserversRouter,
  metrics: metricsRouter,
  operations: operationsRouter,
  operators: operatorsRouter,
});

export type AppRouter = typeof appRouter;
