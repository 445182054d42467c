'use client';
import { useQuery } from '@tanstack/react-query';
import { useTRPC } from '../../lib/trpc';
import { meQuery } from './queries';

/** The signed-in operator, or null: prefetched by the layout so the gate is decided on first paint. */
export function useMe() {
  const trpc = useTRPC();
  return useQuery(meQuery(trpc));
}
