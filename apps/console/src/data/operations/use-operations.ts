'use client';
import { useQuery } from '@tanstack/react-query';
import { useTRPC } from '../../lib/trpc';
import { operationsQuery } from './queries';

/** Recent operations: polled, running ones advance step by step. */
export function useOperations() {
  const trpc = useTRPC();
  return useQuery({ ...operationsQuery(trpc), refetchInterval: 2_000 });
}
