/**
 * Server side of a page: fetches what the page shows on first paint, in process and with the
 * request's session, and hands it to the browser's cache (HydrationBoundary). Best effort by design:
 * a query that fails or is too slow is simply not handed over, and the client component fetches it
 * itself and shows its usual error, so a missing session or a down service never breaks rendering.
 */
import { dehydrate, HydrationBoundary, type QueryClient } from '@tanstack/react-query';
import type { ReactNode } from 'react';
import { makeQueryClient } from '../lib/query-client';
import { serverSession } from '../lib/server/session';
import { serverTrpc } from '../lib/server/trpc';
import type { Trpc } from '../lib/trpc-types';

/** Longer than a healthy cluster needs; a stuck service must not hold the page back. */
const PREFETCH_BUDGET_MS = 2_000;

/** Starts the page's prefetches: `(trpc, qc) => [qc.prefetchQuery(someQuery(trpc)), …]`. */
export type Prefetches = (trpc: Trpc, queryClient: QueryClient) => Promise<void>[];

export async function Prefetch({ queries, children }: { queries: Prefetches; children: ReactNode }) {
  const queryClient = makeQueryClient();
  const session = await serverSession();
  // An unknown session is not a signed-out one: prefetching would hand the browser a wrong answer.
  if (session.state !== 'unknown') await settleWithin(() => queries(serverTrpc(queryClient, session), queryClient), PREFETCH_BUDGET_MS);
  // Only successful queries are dehydrated (the default): failed and unfinished ones stay the client's to fetch.
  return <HydrationBoundary state={dehydrate(queryClient)}>{children}</HydrationBoundary>;
}

async function settleWithin(start: () => Promise<void>[], ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await Promise.race([Promise.allSettled(start()), new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]);
  } catch {
    // A prefetch list that throws while starting (prefetchQuery itself never rejects): as a failed query, the client fetches.
  } finally {
    clearTimeout(timer);
  }
}
