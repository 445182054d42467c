'use client';
import { useQuery } from '@tanstack/react-query';
import { useTRPC } from '../../lib/trpc';
import { pageserversQuery } from './queries';

/** Tiers, timelines and layers: polled, ingest and eviction move on their own. */
export function usePageservers() {
  const trpc = useTRPC();
  return useQuery({ ...pageserversQuery(trpc), refetchInterval: 5_000 });
}
