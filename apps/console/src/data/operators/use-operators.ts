'use client';
import { useQuery } from '@tanstack/react-query';
import { useTRPC } from '../../lib/trpc';
import { operatorsQuery } from './queries';

/** Operators change only from this console, whose mutations refresh them. */
export function useOperators() {
  const trpc = useTRPC();
  return useQuery(operatorsQuery(trpc));
}
