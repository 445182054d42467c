import type { TRPCOptionsProxy } from '@trpc/tanstack-react-query';
import type { AppRouter } from '../server/routers/_app';

/**
 * The options proxy both sides build (the browser's `useTRPC()`, the server's `createTRPCOptionsProxy`):
 * keys and query options take either, so a prefetched query and the hook reading it share one key.
 */
export type Trpc = TRPCOptionsProxy<AppRouter>;
