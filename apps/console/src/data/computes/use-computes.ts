'use client';
import { useQuery } from '@tanstack/react-query';
import { useTRPC } from '../../lib/trpc';
import { computesQuery } from './queries';

/** Computes with their shipping lag: polled, the lag moves with every write. */
export function useComputes() {
  const trpc = useTRPC();
  return useQuery({ ...computesQuery(trpc), refetchInterval: 3_000 });
}
