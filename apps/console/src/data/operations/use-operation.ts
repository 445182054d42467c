'use client';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useEffect } from 'react';
import { useTRPC } from '../../lib/trpc';
import { operationQuery } from './queries';
import { staleAfter } from './stale-after';

const DONE = new Set(['finished', 'failed', 'cancelled']);

/** One operation, polled until it ends; then the views its kind touches are refreshed. */
export function useOperation(id: string) {
  const trpc = useTRPC();
  const qc = useQueryClient();
  const q = useQuery({
    ...operationQuery(trpc, id),
    refetchInterval: (query) => (query.state.data && DONE.has(query.state.data.status) ? false : 500),
  });
  const endedKind = q.data && DONE.has(q.data.status) ? q.data.kind : null;
  useEffect(() => {
    if (endedKind === null) return;
    for (const queryKey of staleAfter(trpc, endedKind)) void qc.invalidateQueries({ queryKey });
  }, [endedKind, trpc, qc]);
  return q;
}
