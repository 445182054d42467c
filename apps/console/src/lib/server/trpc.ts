/** tRPC for server components: the router called in process with the request's session, never over HTTP. */
import type { QueryClient } from '@tanstack/react-query';
import { createTRPCOptionsProxy } from '@trpc/tanstack-react-query';
import { serverDeps } from '../../server/deps';
import { appRouter, type AppRouter } from '../../server/routers/_app';
import type { Context, CookieWriter } from '../../server/trpc';
import type { Trpc } from '../trpc-types';
import type { ServerSession } from './session';

// A server component cannot set cookies, and only the sign-in and sign-out mutations do: they go through /api/trpc.
const noCookies: CookieWriter = {
  setSession() {
    throw new Error('sessions are set by /api/trpc, not while rendering');
  },
  clearSession() {
    throw new Error('sessions are cleared by /api/trpc, not while rendering');
  },
};

export function serverTrpc(queryClient: QueryClient, session: ServerSession): Trpc {
  return createTRPCOptionsProxy<AppRouter>({
    router: appRouter,
    queryClient,
    // Built lazily: a failure here (no database, bad environment) fails the one query, which prefetch absorbs.
    // No address: a render never signs in, so sign-in throttling never needs one here.
    ctx: (): Context => ({ deps: serverDeps(), session: session.state === 'signed-in' ? session.signedIn : null, cookies: noCookies, clientAddress: null }),
  });
}
