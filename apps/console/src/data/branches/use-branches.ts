'use client';
import { useQuery } from '@tanstack/react-query';
import { useTRPC } from '../../lib/trpc';
import { branchesQuery } from './queries';

/** The branch tree; operations that change it refresh it when they end. */
export function useBranches() {
  const trpc = useTRPC();
  return useQuery(branchesQuery(trpc));
}
