import type { z } from 'zod';
import type { SignedIn } from '../services/auth';
import type { ConsoleDeps } from '../deps';
import { startOperation, type OperationKind } from '../services/operations';
import { refreshLocalCluster } from '../services/registry';
import { showOperation } from './shapes';

/** Every admin action starts as a recorded operation; the browser follows it by id. */
export async function start<S extends z.ZodType>(ctx: { deps: ConsoleDeps; session: SignedIn }, def: OperationKind<S>, input: z.infer<S>) {
  return showOperation(await startOperation(ctx.deps, await refreshLocalCluster(ctx.deps), def, input, ctx.session.operator.id));
}
