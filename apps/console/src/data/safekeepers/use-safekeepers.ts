'use client';
import { useQuery } from '@tanstack/react-query';
import { useTRPC } from '../../lib/trpc';
import { safekeepersQuery } from './queries';

/** Nodes and per-timeline members: polled, LSNs and health move on their own. */
export function useSafekeepers() {
  const trpc = useTRPC();
  return useQuery({ ...safekeepersQuery(trpc), refetchInterval: 3_000 });
}
