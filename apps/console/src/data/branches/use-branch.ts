'use client';
import { useQuery } from '@tanstack/react-query';
import { useTRPC } from '../../lib/trpc';
import { branchQuery } from './queries';

/** One branch and its timeline: polled, its head moves with every write. */
export function useBranch(name: string) {
  const trpc = useTRPC();
  return useQuery({ ...branchQuery(trpc, name), refetchInterval: 5_000 });
}
