'use client';
import { useQuery } from '@tanstack/react-query';
import { useTRPC } from '../../lib/trpc';
import { snapshotsQuery } from './queries';

/** Snapshots change only through operations, which refresh them when they end. */
export function useSnapshots() {
  const trpc = useTRPC();
  return useQuery(snapshotsQuery(trpc));
}
