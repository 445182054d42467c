import { z } from 'zod';
import { getOperation, listOperations } from '@strata/db';
import { sweepAbandonedOperations } from '../services/abandoned-operations';
import { cancelOperation, retryableOperation, retryOperation } from '../services/operations';
import { refreshLocalCluster } from '../services/registry';
import { adminProcedure, router, viewerProcedure } from '../trpc';
import { OPERATION_STATUSES, operationOut, showOperation } from './shapes';

export const operationsRouter = router({
  list: viewerProcedure
    .input(z.object({ status: z.enum(OPERATION_STATUSES).optional(), limit: z.number().int().min(1).max(200).default(50) }).optional())
    .output(z.array(operationOut))
    .query(async ({ ctx, input }) => {
      // Read after the sweep, so an operation whose console process stopped shows as failed, not running forever.
      await sweepAbandonedOperations(ctx.deps);
      return (await listOperations(ctx.deps.db, { limit: input?.limit ?? 50, ...(input?.status ? { status: input.status } : {}) })).map(showOperation);
    }),
  get: viewerProcedure
    .input(z.object({ id: z.string().uuid() }))
    .output(operationOut)
    .query(async ({ ctx, input }) => {
      await sweepAbandonedOperations(ctx.deps);
      return showOperation(await getOperation(ctx.deps.db, input.id));
    }),
  retry: adminProcedure
    .input(z.object({ id: z.string().uuid() }))
    .output(operationOut)
    .mutation(async ({ ctx, input }) => {
      // Refused before the cluster is read: a failure that can only repeat is not retried anywhere.
      await retryableOperation(ctx.deps, input.id);
      return showOperation(await retryOperation(ctx.deps, await refreshLocalCluster(ctx.deps), input.id, ctx.session.operator.id));
    }),
  /**
   * Asks a running operation to stop at its next safe point; it then undoes what it made and ends as
   * `cancelled` (follow it with `get`). Refused (CONFLICT) once it ended or passed its point of no return.
   */
  cancel: adminProcedure
    .input(z.object({ id: z.string().uuid() }))
    .output(operationOut)
    .mutation(async ({ ctx, input }) => {
      await cancelOperation(ctx.deps, input.id, ctx.session.operator.username);
      return showOperation(await getOperation(ctx.deps.db, input.id));
    }),
});
