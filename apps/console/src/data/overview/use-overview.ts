'use client';
import { useQuery } from '@tanstack/react-query';
import { useTRPC } from '../../lib/trpc';
import { overviewQuery } from './queries';

/** Nodes, timelines, computes and alerts: polled, it is the page an operator watches. */
export function useOverview() {
  const trpc = useTRPC();
  return useQuery({ ...overviewQuery(trpc), refetchInterval: 3_000 });
}
