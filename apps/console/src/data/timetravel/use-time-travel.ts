'use client';
import { useMutation } from '@tanstack/react-query';
import { useTRPC } from '../../lib/trpc';

/** A read-only query at a point in time. A mutation only because it starts (and stops) a compute: it changes no view. */
export function useTimeTravelQuery() {
  const trpc = useTRPC();
  return useMutation(trpc.timeTravel.query.mutationOptions());
}
