import { z } from 'zod';
import { membershipChange, safekeeperAdd, safekeeperRemove, safekeeperOverview } from '../services/safekeepers';
import { adminProcedure, router, viewerProcedure } from '../trpc';
import { operationOut } from './shapes';
import { start } from './start';

export const safekeepersRouter = router({
  overview: viewerProcedure
    .input(z.object({}).optional())
    .output(
      z.object({
        nodes: z.array(z.object({ id: z.number(), url: z.string(), healthy: z.boolean(), error: z.string().nullable() })),
        timelines: z.array(
          z.object({
            timelineId: z.string(),
            branch: z.string().nullable(),
            members: z.array(
              z.object({
                nodeId: z.number(),
                term: z.string(),
                generation: z.number(),
                members: z.array(z.number()),
                newMembers: z.array(z.number()).nullable(),
                flushLsn: z.string(),
                commitLsn: z.string(),
                backupLsn: z.string(),
                remoteConsistentLsn: z.string(),
              }),
            ),
          }),
        ),
      }),
    )
    .query(({ ctx }) => safekeeperOverview(ctx.deps)),
  /** A new node in the local cluster; timelines move there with changeMembership. */
  add: adminProcedure.input(safekeeperAdd.input).output(operationOut).mutation(({ ctx, input }) => start(ctx, safekeeperAdd, input)),
  remove: adminProcedure.input(safekeeperRemove.input).output(operationOut).mutation(({ ctx, input }) => start(ctx, safekeeperRemove, input)),
  changeMembership: adminProcedure.input(membershipChange.input).output(operationOut).mutation(({ ctx, input }) => start(ctx, membershipChange, input)),
});
